/**
 * The flags of the long-running commands (`serve`, `worker`), each with its environment
 * variable, from one table per command: the table gives the flags to the parser, their lines
 * to `--help`, and checks every value, whether it came from a flag or from the environment.
 * A flag wins over its variable; an empty variable is an unset one (shells make those easy).
 *
 * Adding a flag is one line in the command's table, `name: { flag, env, value, description }`,
 * where `name` is the key of the option it sets (the options bag of `startServer()` or
 * `startWorker()`, which the command passes the resolved values to).
 *
 * @packageDocumentation
 */

/** How a flag's text becomes its value, and what it says when the text will not do. */
export interface FlagValue<T> {
  /** A string flag takes a value (`--port 8080`); a boolean one does not (`--metrics-public`). */
  readonly type: 'string' | 'boolean';
  /** What the help calls the value: `--port <n>`. */
  readonly valueName?: string | undefined;
  /** What a good value is, for the error message: "a port number from 0 to 65535". */
  readonly expected: string;
  /** Whether the error message must not repeat the value (a token with a typo is still a secret). */
  readonly secret?: boolean | undefined;
  /** The value of the text, or `undefined` when it is not one (the caller says what was expected). */
  parse(text: string): T | undefined;
}

/** One line of a command's table. */
export interface FlagSpec<T> {
  /** The flag without its dashes: `data-dir`. */
  readonly flag: string;
  /** Its environment variable: `EXPORT_TASK_DATA_DIR`. */
  readonly env: string;
  readonly value: FlagValue<T>;
  /** One line for `--help`; the variable's name is added to it. */
  readonly description: string;
  /** Whether the flag may be given more than once; its variable then holds a comma-separated list. */
  readonly multiple?: boolean | undefined;
}

/** What a spec's value is: a list for a repeatable flag. */
type ValueOf<TSpec> = TSpec extends FlagSpec<infer T> ? (TSpec extends { readonly multiple: true } ? T[] : T) : never;

/** The values of a command's table, `undefined` where neither a flag nor a variable gave one. */
export type FlagValues<TTable extends Record<string, FlagSpec<unknown>>> = { -readonly [K in keyof TTable]: ValueOf<TTable[K]> | undefined };

/** A flag as the command line parser and `--help` take it. */
export interface ParserOption {
  readonly type: 'string' | 'boolean';
  readonly valueName?: string | undefined;
  readonly description: string;
  readonly multiple?: boolean | undefined;
}

/** A command's table, made usable: the parser's options, and the checks of flags and variables. */
export interface ServiceFlags<TTable extends Record<string, FlagSpec<unknown>>> {
  readonly table: TTable;
  /** For `node:util`'s `parseArgs` and `--help`, keyed by flag. */
  readonly options: Readonly<Record<string, ParserOption>>;
  /**
   * The values the flags give.
   * @throws TypeError naming the flag and what it expected.
   */
  fromFlags(values: Readonly<Record<string, unknown>>): FlagValues<TTable>;
  /**
   * The flags' values, with the environment's where no flag gave one.
   * @throws TypeError naming the variable and what it expected.
   */
  withEnv(fromFlags: FlagValues<TTable>, env: Readonly<Record<string, string | undefined>>): FlagValues<TTable>;
}

/**
 * Makes a command's flags from its table.
 *
 * @example
 * ```ts
 * const flags = serviceFlags({
 *   port: { flag: 'port', env: 'EXPORT_TASK_PORT', value: portValue, description: 'TCP port' },
 * });
 * const values = flags.withEnv(flags.fromFlags({ port: '8080' }), process.env);
 * ```
 */
export function serviceFlags<const TTable extends Record<string, FlagSpec<unknown>>>(table: TTable): ServiceFlags<TTable> {
  const options: Record<string, ParserOption> = {};
  for (const spec of Object.values(table)) {
    const list = spec.multiple === true ? ', repeatable; comma-separated in the variable' : '';
    options[spec.flag] = {
      type: spec.value.type,
      ...(spec.value.valueName === undefined ? {} : { valueName: spec.value.valueName }),
      ...(spec.multiple === true ? { multiple: true } : {}),
      description: `${spec.description} [${spec.env}${list}]`,
    };
  }
  return {
    table,
    options,
    fromFlags(values) {
      const out: Record<string, unknown> = {};
      for (const [key, spec] of Object.entries(table)) {
        const given = values[spec.flag];
        if (given === undefined) out[key] = undefined;
        else if (spec.multiple === true) out[key] = (Array.isArray(given) ? given : [given]).map((item) => flagValue(spec, item));
        else out[key] = flagValue(spec, given);
      }
      return out as FlagValues<TTable>;
    },
    withEnv(fromFlags, env) {
      const out: Record<string, unknown> = { ...fromFlags };
      for (const [key, spec] of Object.entries(table)) {
        const text = env[spec.env];
        if (out[key] !== undefined || text === undefined || text === '') continue;
        if (spec.multiple === true) {
          out[key] = text
            .split(',')
            .map((item) => item.trim())
            .filter((item) => item !== '')
            .map((item) => checked(spec.value, item, spec.env));
        } else {
          out[key] = checked(spec.value, spec.value.type === 'boolean' ? text.trim().toLowerCase() : text, spec.env);
        }
      }
      return out as FlagValues<TTable>;
    },
  };
}

function flagValue(spec: FlagSpec<unknown>, given: unknown): unknown {
  // A boolean flag's presence is its value; parseArgs gives `true`.
  if (spec.value.type === 'boolean') return given === true ? spec.value.parse('true') : checked(spec.value, String(given), `--${spec.flag}`);
  return checked(spec.value, String(given), `--${spec.flag}`);
}

function checked<T>(value: FlagValue<T>, text: string, source: string): T {
  const parsed = value.parse(text);
  if (parsed !== undefined) return parsed;
  const got = value.secret === true ? `a value of ${text.length} characters (not shown)` : JSON.stringify(text);
  throw new TypeError(`expected ${source} to be ${value.expected}, got ${got}`);
}

/** The values of {@link serviceFlags}' tables. */
export const flagValues = {
  /** A TCP port, 0 for any free one. */
  port: {
    type: 'string',
    valueName: 'n',
    expected: 'a port number from 0 to 65535',
    parse: (text) => (/^\d{1,5}$/.test(text) && Number(text) <= 65_535 ? Number(text) : undefined),
  } satisfies FlagValue<number>,
  /** A positive whole number (of jobs, ms, MiB, bytes, ...). */
  positive: (valueName: string): FlagValue<number> => ({
    type: 'string',
    valueName,
    expected: 'a positive whole number',
    parse: (text) => (/^[0-9]{1,15}$/.test(text) && Number(text) >= 1 ? Number(text) : undefined),
  }),
  /** A whole number from 0 (of ms, say). */
  natural: (valueName: string): FlagValue<number> => ({
    type: 'string',
    valueName,
    expected: 'a whole number from 0',
    parse: (text) => (/^[0-9]{1,15}$/.test(text) ? Number(text) : undefined),
  }),
  /** Any non-empty text (an address, a path, a URL, checked further by what takes it). */
  text: (valueName: string): FlagValue<string> => ({
    type: 'string',
    valueName,
    expected: 'non-empty',
    parse: (text) => (text === '' ? undefined : text),
  }),
  /** A secret: never repeated in an error message. */
  secret: (valueName: string): FlagValue<string> => ({
    type: 'string',
    valueName,
    expected: 'non-empty',
    secret: true,
    parse: (text) => (text === '' ? undefined : text),
  }),
  /** A switch: the flag alone, or `true`/`false` (`1`/`0`, `yes`/`no`) in the variable. */
  boolean: {
    type: 'boolean',
    expected: 'true or false (or 1 or 0, yes or no)',
    parse: (text) => (['true', '1', 'yes'].includes(text) ? true : ['false', '0', 'no'].includes(text) ? false : undefined),
  } satisfies FlagValue<boolean>,
  /** One of a few words. */
  oneOf: <const TWord extends string>(valueName: string, words: readonly TWord[]): FlagValue<TWord> => ({
    type: 'string',
    valueName,
    expected: `one of ${words.join(', ')}`,
    parse: (text) => (words as readonly string[]).includes(text) ? (text as TWord) : undefined,
  }),
} as const;

/**
 * The entries whose value is not `undefined`, as the options bags of `startServer()` and
 * `startWorker()` take them.
 */
export function definedOnly<T extends Record<string, unknown>>(values: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };
}
