/**
 * `export-task ls`: a table of a product's completed exports.
 *
 * @packageDocumentation
 */
import type { ExportClient } from '../../client/create-client.js';
import type { ExportTaskSnapshot } from '../../core/snapshot.js';
import { formatTable } from '../table.js';
import { CONNECTION_OPTIONS, checkId, parseConnection, withClient, type CommandIo, type ConnectionFlags } from './connection.js';

/** What `ls` is asked to do. */
export interface LsOptions extends ConnectionFlags {
  readonly productId: string;
  /** A JSON array instead of a table. */
  readonly json: boolean;
}

/** One export as `ls --json` prints it. */
export interface ExportListing {
  readonly exportId: string;
  readonly status: 'SUCCESS' | 'FAILURE' | null;
  readonly failureType: string | null;
  readonly exceptionName: string | null;
  readonly key: string | null;
  readonly sizeBytes: number | null;
  readonly sha256: string | null;
  /** CPU seconds. */
  readonly runtime: number | null;
  /** Bytes. */
  readonly peakMemoryUsage: number | null;
  readonly created: string | null;
}

/** The `ls` command, in the shape `src/cli/main.ts` lists its commands in. */
export const lsCommand = {
  name: 'ls',
  summary: "List a product's completed exports: status, failure, key, size, runtime, created",
  description: [
    'Prints a table of the completed exports of a product (every page of the service\'s list route), oldest',
    'first: id, status, failure type, exception, storage key, file size, CPU runtime, peak memory and creation time.',
    'Exports still pending or running are not listed: "export-task watch <product>" follows those.',
    'With --json, prints one JSON array of {exportId, status, failureType, exceptionName, key, sizeBytes,',
    'sha256, runtime, peakMemoryUsage, created} (runtime in CPU seconds, sizes in bytes).',
    'Exit codes: 0 listed (even none), 1 when the service answered an error, 2 for a usage error.',
  ].join('\n'),
  options: {
    ...CONNECTION_OPTIONS,
    json: { type: 'boolean', description: 'A JSON array instead of the table, for scripts' },
  },
  arguments: [{ name: 'product', description: 'The product (feature collection) id' }],
  parse(values: Readonly<Record<string, string | boolean | undefined>>, positionals: readonly string[]): LsOptions {
    return { ...parseConnection(values), productId: checkId('product', positionals[0] ?? ''), json: values['json'] === true };
  },
  run: (options: LsOptions, io: CommandIo): Promise<number> => withClient('ls', options, io, (client) => list(client, options, io)),
} as const;

async function list(client: ExportClient, options: LsOptions, io: CommandIo): Promise<number> {
  const tasks = await client.featureCollection(options.productId).listExports();
  const listings = tasks.map((task) => listing(task.snapshot));
  if (options.json) {
    io.stdout.write(`${JSON.stringify(listings)}\n`);
    return 0;
  }
  if (listings.length === 0) {
    io.stdout.write(`No completed exports in ${options.productId}.\n`);
    return 0;
  }
  const rows = listings.map((e) => [
    e.exportId,
    e.status ?? '',
    e.failureType ?? '',
    e.exceptionName ?? '',
    e.key ?? '',
    e.sizeBytes === null ? '' : formatBytes(e.sizeBytes),
    e.runtime === null ? '' : `${e.runtime.toFixed(2)} s`,
    e.peakMemoryUsage === null ? '' : formatBytes(e.peakMemoryUsage),
    e.created ?? '',
  ]);
  const columns = [
    { header: 'export' },
    { header: 'status' },
    { header: 'failure' },
    { header: 'exception' },
    { header: 'key' },
    { header: 'size', align: 'right' },
    { header: 'runtime', align: 'right' },
    { header: 'memory', align: 'right' },
    { header: 'created' },
  ] as const;
  io.stdout.write(`${formatTable(columns, rows)}\n`);
  return 0;
}

function listing(snapshot: ExportTaskSnapshot): ExportListing {
  const a = snapshot.attributes;
  return {
    exportId: snapshot.exportId,
    status: a?.status ?? null,
    failureType: a?.failureType ?? null,
    exceptionName: a?.exceptionName ?? null,
    key: a?.key ?? a?.labels?.[3] ?? null,
    sizeBytes: a?.sizeBytes ?? null,
    sha256: a?.sha256 ?? null,
    runtime: a?.runtime ?? null,
    peakMemoryUsage: a?.peakMemoryUsage ?? null,
    created: a?.created ?? snapshot.created,
  };
}

/** Bytes in the largest unit that keeps the number at least 1, as `1.5 MiB`; plain bytes below 1 KiB. */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = 'B';
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return `${value.toFixed(1)} ${unit}`;
}
