/**
 * `export-task get`: download the file of a succeeded export, atomically and verified.
 *
 * @packageDocumentation
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { ExportClient } from '../../client/create-client.js';
import { CONNECTION_OPTIONS, CommandError, checkId, parseConnection, withClient, type CommandIo, type ConnectionFlags } from './connection.js';
import { formatBytes } from './ls.js';

/** What `get` is asked to do. */
export interface GetOptions extends ConnectionFlags {
  readonly productId: string;
  readonly exportId: string;
  /** Where to write: a file, or a directory to write the key's file name into; the working directory when absent. */
  readonly dest: string | undefined;
  /** Replace an existing file. */
  readonly force: boolean;
  /** One JSON object instead of the sentence. */
  readonly json: boolean;
}

/** The `get` command, in the shape `src/cli/main.ts` lists its commands in. */
export const getCommand = {
  name: 'get',
  summary: "Download a succeeded export's file (atomic; size and SHA-256 verified)",
  description: [
    'Downloads the file of a succeeded export to DEST: a file path, or a directory to put it in under the last',
    'segment of its storage key (the working directory when DEST is left out). The file appears only once it is',
    'complete and its size and SHA-256 match the export\'s; a failed or interrupted download leaves nothing. An',
    'existing file is not replaced unless --force is given. Prints where the file went; with --json, one JSON',
    'object {exportId, key, path, sizeBytes, sha256}.',
    'Exit codes: 0 downloaded, 1 when the export has not succeeded, the file exists, the download failed or the',
    'service answered an error, 2 for a usage error.',
  ].join('\n'),
  options: {
    ...CONNECTION_OPTIONS,
    force: { type: 'boolean', description: 'Replace DEST if it exists' },
    json: { type: 'boolean', description: 'One JSON object instead of the sentence, for scripts' },
  },
  arguments: [
    { name: 'product', description: 'The product (feature collection) id' },
    { name: 'export', description: 'The export id' },
    { name: 'dest', description: 'File or directory to write to (default: the working directory)', optional: true },
  ],
  parse(values: Readonly<Record<string, string | boolean | undefined>>, positionals: readonly string[]): GetOptions {
    const [productId = '', exportId = '', dest] = positionals;
    return {
      ...parseConnection(values),
      productId: checkId('product', productId),
      exportId: checkId('export', exportId),
      dest: dest === undefined ? undefined : checkId('dest', dest),
      force: values['force'] === true,
      json: values['json'] === true,
    };
  },
  run: (options: GetOptions, io: CommandIo): Promise<number> => withClient('get', options, io, (client) => get(client, options, io)),
} as const;

async function get(client: ExportClient, options: GetOptions, io: CommandIo): Promise<number> {
  const task = await client.featureCollection(options.productId).getExport(options.exportId);
  const { phase, progress, attributes } = task.snapshot;
  if (phase === 'pending' || phase === 'running') {
    throw new CommandError(
      `export ${options.exportId} is ${phase} (${Math.floor(progress * 100)}%): it has a file once it has succeeded; ` +
        `wait for it with "export-task watch ${options.productId} ${options.exportId}"`,
    );
  }
  if (phase === 'failure') {
    const why = [attributes?.failureType, attributes?.exceptionName].filter((x) => x !== null && x !== undefined).join(', ');
    throw new CommandError(`export ${options.exportId} failed${why === '' ? '' : ` (${why})`}: it has no file`);
  }
  const key = task.key;
  if (key === undefined) throw new CommandError(`export ${options.exportId} succeeded but the service gave no storage key for its file`);
  const fileName = key.split('/').at(-1)!;
  const path = await destination(options.dest, fileName);
  if (!options.force && (await exists(path))) {
    throw new CommandError(`${path} exists: pass --force to replace it, or give another destination`);
  }
  await task.getFile(path, { signal: io.signal });
  const sizeBytes = attributes?.sizeBytes ?? null;
  const sha256 = attributes?.sha256 ?? null;
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ exportId: options.exportId, key, path, sizeBytes, sha256 })}\n`);
  } else {
    const size = sizeBytes === null ? '' : `${formatBytes(sizeBytes)}, `;
    io.stdout.write(`Saved ${path} (${size}sha256 ${sha256 ?? 'unknown'})\n`);
  }
  return 0;
}

/** The file to write: `dest` itself, or the key's file name in it when it is a directory (or ends with a slash). */
async function destination(dest: string | undefined, fileName: string): Promise<string> {
  if (dest === undefined) return resolve(fileName);
  if (/[\\/]$/.test(dest)) return resolve(join(dest, fileName));
  const stats = await stat(dest).catch(() => undefined);
  return resolve(stats?.isDirectory() === true ? join(dest, fileName) : dest);
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}
