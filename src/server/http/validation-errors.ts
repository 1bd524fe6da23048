import { BadRequestError } from '../../client/http-errors.js';
import { describeValue } from '../../core/errors.js';

/**
 * The keywords our route schemas add to JSON Schema, for the messages of a refused request (and
 * shown in the OpenAPI document, where `x-` keywords are extensions): `x-expected` says what a
 * value should be, in words ("1 to 128 characters of letters, ..."), and `x-fix` how to mend a
 * value that is not. A schema's `title` names its value in a message ("the product id").
 * @internal
 */
export const MESSAGE_KEYWORDS = ['x-expected', 'x-fix'] as const;

/**
 * Fastify's Ajv, configured to refuse rather than mend: no type coercion (a product id `5` is
 * refused, not read as `"5"`), no member removed (an unknown member is refused, naming it), no
 * default filled in; `verbose` so that an error carries the schema and the value it failed on,
 * for the message.
 * @internal
 */
export const AJV_OPTIONS = {
  customOptions: {
    coerceTypes: false as const,
    removeAdditional: false as const,
    useDefaults: false as const,
    allErrors: false as const,
    verbose: true as const,
    keywords: [...MESSAGE_KEYWORDS],
  },
};

/** One error of Ajv's, as much of it as the message needs (Ajv's `ErrorObject` with `verbose`). @internal */
export interface SchemaError {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly schema?: unknown;
  readonly parentSchema?: Readonly<Record<string, unknown>> | undefined;
  readonly data?: unknown;
}

/** What Fastify validated (its `dataVar`): `body`, `params`, `querystring` or `headers`. */
type Part = string;

/**
 * The error answered for a request its route's schema refused: a 400 whose message says where
 * (`limits.timeout_ms`, the product id, the `after` query parameter), what was expected and
 * what came, in the words of the protocol's other errors. Fastify's `schemaErrorFormatter`.
 *
 * @param errors - Ajv's errors (the first is the one reported: Ajv stops at the first).
 * @param part - What was validated (Fastify's `dataVar`).
 * @returns A {@link BadRequestError} to answer.
 * @internal
 */
export function schemaErrorMessage(errors: readonly SchemaError[], part: Part): BadRequestError {
  const error = errors[0];
  if (error === undefined) return new BadRequestError(`The request's ${part} is not what this route takes`);
  return new BadRequestError(messageOf(error, part));
}

function messageOf(error: SchemaError, part: Part): string {
  const node = error.parentSchema ?? {};
  const name = nameOf(node, error.instancePath, part);
  const data = error.data;
  switch (error.keyword) {
    case 'required': {
      const member = String(error.params['missingProperty']);
      const memberSchema = (node['properties'] as Record<string, Record<string, unknown>> | undefined)?.[member];
      const expected = typeof memberSchema?.['x-expected'] === 'string' ? `: ${memberSchema['x-expected']}` : '';
      return `Expected ${name} to have ${article(member)} \`${member}\`${expected}`;
    }
    case 'additionalProperties': {
      const known = Object.keys((node['properties'] as Record<string, unknown> | undefined) ?? {});
      return `Expected ${name} to have only ${known.map((k) => `\`${k}\``).join(', ')}, got an unknown \`${String(error.params['additionalProperty'])}\`: remove it`;
    }
  }
  // One query parameter given twice arrives as an array.
  if (part === 'querystring' && Array.isArray(data) && error.keyword === 'type') {
    return `Expected one ${name} query parameter, got ${data.length}`;
  }
  const expected = typeof node['x-expected'] === 'string' ? node['x-expected'] : expectationOf(error);
  const fix = typeof node['x-fix'] === 'string' ? `: ${node['x-fix']}` : '';
  return `Expected ${name} to be ${expected}, got ${gotOf(error, part)}${fix}`;
}

/** The value's name: the schema's `title`, else its path (`limits.timeout_ms`, `export_ids[1]`), else the part. */
function nameOf(node: Readonly<Record<string, unknown>>, instancePath: string, part: Part): string {
  if (typeof node['title'] === 'string') return node['title'];
  if (instancePath === '') {
    if (part === 'body') return 'the request body';
    return part === 'querystring' ? 'the query string' : `the request's ${part}`;
  }
  const path = instancePath
    .split('/')
    .slice(1)
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((segment, i) => (/^\d+$/.test(segment) ? `[${segment}]` : i === 0 ? segment : `.${segment}`))
    .join('');
  return `\`${path}\``;
}

/** What the keyword wanted, in words. */
function expectationOf(error: SchemaError): string {
  const p = error.params;
  switch (error.keyword) {
    case 'type':
      return String(p['type'])
        .split(',')
        .map((type) => TYPE_WORDS[type] ?? type)
        .join(' or ');
    case 'maxLength':
      return `at most ${String(p['limit'])} characters`;
    case 'minLength':
      return p['limit'] === 1 ? 'a non-empty string' : `at least ${String(p['limit'])} characters`;
    case 'maxItems':
      return `an array of at most ${String(p['limit'])}`;
    case 'minItems':
      return `an array of at least ${String(p['limit'])}`;
    case 'pattern':
      return `a string matching ${String(p['pattern'])}`;
    case 'enum':
      return `one of ${(p['allowedValues'] as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return JSON.stringify(p['allowedValue']);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `a number ${String(p['comparison'])} ${String(p['limit'])}`;
    default:
      return `what its schema's \`${error.keyword}\` asks (${JSON.stringify(p)})`;
  }
}

const TYPE_WORDS: Readonly<Record<string, string>> = {
  object: 'a JSON object',
  array: 'an array',
  string: 'a string',
  number: 'a number',
  integer: 'an integer',
  boolean: 'a boolean',
  null: 'null',
};

/** What came: a count for the keywords that count, else the value (a body that is absent is "no body"). */
function gotOf(error: SchemaError, part: Part): string {
  const data = error.data;
  if ((error.keyword === 'maxLength' || error.keyword === 'minLength') && typeof data === 'string' && data.length > 0) return String(data.length);
  if ((error.keyword === 'maxItems' || error.keyword === 'minItems') && Array.isArray(data)) return String(data.length);
  // Fastify validates an absent body as null.
  if (part === 'body' && error.instancePath === '' && data === null) return 'no body';
  return describeValue(data);
}

function article(word: string): string {
  return /^[aeiou]/i.test(word) ? 'an' : 'a';
}
