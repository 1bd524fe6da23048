/**
 * `export-task export`: start an export of a product, and follow it with `--watch`.
 *
 * @packageDocumentation
 */
import { readFile } from 'node:fs/promises';
import type { ExportClient } from '../../client/create-client.js';
import type { ExportQuery } from '../../client/geojson.js';
import { CONNECTION_OPTIONS, CommandError, checkId, parseConnection, withClient, type CommandIo, type ConnectionFlags } from './connection.js';
import { followExports } from './watch.js';

/** What `export` is asked to do. */
export interface ExportCommandOptions extends ConnectionFlags {
  readonly productId: string;
  /** The storage key of the file to write. */
  readonly key: string;
  /** The query as given: JSON text, or `@path` of a file holding it; `undefined`: the whole product. */
  readonly query: string | undefined;
  readonly idempotencyKey: string | undefined;
  /** Follow the export until it is final, as `watch` does. */
  readonly watch: boolean;
  readonly json: boolean;
  readonly plain: boolean;
}

/** The `export` command, in the shape `src/cli/main.ts` lists its commands in. */
export const exportCommand = {
  name: 'export',
  summary: 'Start an export of a product to a storage key; --watch follows it until it ends',
  description: [
    'Starts an export of the features of a product that --query selects (all of them without it) to the',
    'storage KEY, as newline-delimited GeoJSON, and prints its id. The query is JSON, given inline or as',
    '@FILE: {"query_expr": {...}, "geometry": {...}, "query_limit": n}; query_expr takes the forms eq, ne,',
    'range (gt, gte, lt, lte), like, and, or, e.g. {"query_expr": {"eq": {"kind": "highway"}}}.',
    'With --watch, follows the export as "export-task watch" does, and exits as it does: 0 when it succeeded,',
    '1 when it failed. Without it, exits 0 once the export is started.',
    'With --json, prints {"type":"started","productId":...,"exportId":...,"key":...} (then, with --watch, the',
    'lines of "watch --json").',
    'Exit codes: 0 started (or, with --watch, succeeded), 1 when the service refused or the export failed,',
    '2 for a usage error, 130 when interrupted.',
  ].join('\n'),
  options: {
    ...CONNECTION_OPTIONS,
    query: { type: 'string', valueName: 'json|@file', description: 'What to export, as JSON or @file holding it (default: every feature)' },
    'idempotency-key': { type: 'string', valueName: 'key', description: 'The same key again answers the same export instead of starting another' },
    watch: { type: 'boolean', description: 'Follow the export with a progress bar until it is final' },
    json: { type: 'boolean', description: 'JSON lines instead of text, for scripts' },
    plain: { type: 'boolean', description: 'With --watch: plain progress lines, no escapes (default on a pipe or with NO_COLOR)' },
  },
  arguments: [
    { name: 'product', description: 'The product (feature collection) id' },
    { name: 'key', description: 'The storage key to write the file to, such as exports/roads.ndjson' },
  ],
  parse(values: Readonly<Record<string, string | boolean | undefined>>, positionals: readonly string[]): ExportCommandOptions {
    const [productId = '', key = ''] = positionals;
    const query = values['query'];
    if (query === '' || query === '@') throw new TypeError('expected --query to be JSON such as \'{"query_expr":{"eq":{"kind":"highway"}}}\' or @file, got ""');
    const idempotencyKey = values['idempotency-key'];
    return {
      ...parseConnection(values),
      productId: checkId('product', productId),
      key: checkId('key', key),
      query: typeof query === 'string' ? query : undefined,
      idempotencyKey: typeof idempotencyKey === 'string' ? checkId('idempotency-key', idempotencyKey) : undefined,
      watch: values['watch'] === true,
      json: values['json'] === true,
      plain: values['plain'] === true,
    };
  },
  run: (options: ExportCommandOptions, io: CommandIo): Promise<number> => withClient('export', options, io, (client) => startExport(client, options, io)),
} as const;

async function startExport(client: ExportClient, options: ExportCommandOptions, io: CommandIo): Promise<number> {
  const query = options.query === undefined ? undefined : await readQuery(options.query);
  const collection = client.featureCollection(options.productId);
  const task = await collection
    .export(options.key, {
      ...(query === undefined ? {} : { query }),
      ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
    })
    .catch((error: unknown) => {
      // The client checks the key and the query before any request: a usage error.
      if (error instanceof TypeError && error.message !== 'fetch failed') throw new CommandError(error.message, 2);
      throw error;
    });
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ type: 'started', productId: options.productId, exportId: task.exportId, key: options.key })}\n`);
  } else {
    io.stdout.write(`Started export ${task.exportId} of ${options.productId} to ${options.key}.\n`);
    if (!options.watch) {
      io.stdout.write(`Follow it with "export-task watch ${options.productId} ${task.exportId}"; once it succeeds, download it with "export-task get ${options.productId} ${task.exportId}".\n`);
    }
  }
  if (!options.watch) return 0;
  return followExports(client, { ...options, exportIds: [task.exportId], tasks: [task] }, io);
}

/**
 * The query from its JSON text or `@file`, checked to be a JSON object (the client checks its
 * members). @throws CommandError (exit code 2) saying what was wrong.
 */
async function readQuery(given: string): Promise<ExportQuery> {
  let text = given;
  let source = '--query';
  if (given.startsWith('@')) {
    const path = given.slice(1);
    source = `--query ${given}`;
    text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new CommandError(`${source}: ${error.code === 'ENOENT' ? `no file ${path}` : error.message}: give a file holding the query as JSON`, 2);
    });
  }
  let value: ExportQuery;
  try {
    value = JSON.parse(text) as ExportQuery;
  } catch (error) {
    throw new CommandError(
      `expected ${source} to be JSON such as '{"query_expr":{"eq":{"kind":"highway"}}}', but it does not parse (${(error as Error).message})`,
      2,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CommandError(`expected ${source} to be a JSON object such as {"query_expr": ...}, got ${JSON.stringify(value)}`, 2);
  }
  return value;
}
