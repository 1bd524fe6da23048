/**
 * The baseline of goal 4: what a hand-written client does with a page of completed exports:
 * check each item's fields (as `parseTaskEvent` does) and map it to a plain object with
 * camelCase attributes.
 */
import type { ExportBackend } from '../../src/client/backend.js';
import { BadEvent, plainAttributes, type PlainTask } from './reducer.js';

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]00:?00)$/;

function str(v: unknown, field: string, max: number): string {
  if (typeof v !== 'string' || v.length > max) throw new BadEvent(field);
  return v;
}

export function plainExport(input: unknown): PlainTask {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new BadEvent('');
  const e = input as Record<string, unknown>;
  if (e['type'] !== 'snapshot') throw new BadEvent('type');
  const seq = e['seq'];
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) throw new BadEvent('seq');
  const time = str(e['time'], 'time', 64);
  if (!ISO_UTC.test(time)) throw new BadEvent('time');
  const productId = str(e['product_id'], 'product_id', 256);
  const exportId = str(e['export_id'], 'export_id', 256);
  if (productId.length === 0 || exportId.length === 0) throw new BadEvent('id');
  const phase = e['phase'];
  if (phase !== 'success' && phase !== 'failure') throw new BadEvent('phase');
  const progress = e['progress'];
  if (typeof progress !== 'number' || !(progress >= 0 && progress <= 1)) throw new BadEvent('progress');
  const log = e['log'];
  if (log !== undefined && (!Array.isArray(log) || log.length > 100_000)) throw new BadEvent('log');
  if (log !== undefined) for (const line of log as unknown[]) str(line, 'log', 65_536);
  const message = e['message'] === undefined || e['message'] === null ? null : str(e['message'], 'message', 4096);
  const cancel = e['cancel_requested'];
  if (cancel !== undefined && typeof cancel !== 'boolean') throw new BadEvent('cancel_requested');
  const attributes = plainAttributes(e['attributes'], phase);
  const created = e['created'] === undefined || e['created'] === null ? attributes.created : str(e['created'], 'created', 64);
  if (created !== null && !ISO_UTC.test(created)) throw new BadEvent('created');
  return {
    productId,
    exportId,
    phase,
    seq,
    progress: phase === 'success' ? 1 : progress,
    message,
    log: (log as string[] | undefined) ?? [],
    cancelRequested: cancel ?? false,
    created,
    attributes: attributes.created === null && created !== null ? { ...attributes, created } : attributes,
  };
}

/** Every completed export of a product, all pages, as plain objects. */
export async function listPlainExports(backend: ExportBackend, productId: string): Promise<PlainTask[]> {
  const tasks: PlainTask[] = [];
  let token: string | null = null;
  do {
    const page = await backend.listExports(productId, token);
    for (const item of page.data) tasks.push(plainExport(item));
    token = page.continuationToken;
  } while (token !== null);
  return tasks;
}
