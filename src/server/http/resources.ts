import type { ProductInfo } from '../../client/backend.js';
import type { WireAttributes } from '../../core/events.js';
import type { ExportRecord } from '../embedded/export-record.js';

/**
 * The result attributes DL's Tasks API had and its client's `ExportTask.log` (inherited from
 * `FutureTask.log`) reads: with `log_size_bytes` 0 it answers `None` without a request, else it
 * fetches `GET /storage/v1/logs/get/{result_key}`.
 * @internal
 */
export interface LogAttributes {
  /** The size in bytes (UTF-8) of the log as the Storage route serves it: its lines joined by "\n". */
  readonly log_size_bytes: number;
  /** The key of the export's log in the Storage API's `logs` area: `{product_id}/{export_id}`. */
  readonly result_key: string;
}

/** A final export as DL's result and list routes send it. @internal */
export interface ExportResource {
  readonly id: string;
  readonly type: 'export';
  readonly attributes: WireAttributes & LogAttributes;
}

const utf8 = new TextEncoder();

/** A product as the product routes send it. @internal */
export interface ProductResource {
  readonly id: string;
  readonly type: 'product';
  readonly attributes: { readonly title: string; readonly feature_count: number };
}

/**
 * The DL resource of a final export: DL's attribute names, every one present (null when it
 * has no value; DL sent the string "None", which clients read as null too), and where its log is.
 * @internal
 */
export function exportResource(record: ExportRecord): ExportResource {
  const a = record.attributes;
  if (a === null) throw new Error(`Export ${record.exportId} is not final: it has no result yet`);
  return {
    id: record.exportId,
    type: 'export',
    attributes: {
      created: a.created,
      status: a.status,
      failure_type: a.failure_type,
      exception_name: a.exception_name,
      stacktrace: a.stacktrace,
      peak_memory_usage: a.peak_memory_usage,
      runtime: a.runtime,
      labels: a.labels,
      key: a.key,
      size_bytes: a.size_bytes,
      sha256: a.sha256,
      log_size_bytes: utf8.encode(record.logText()).byteLength,
      result_key: record.resultKey,
    },
  };
}

/** @internal */
export function productResource(product: ProductInfo): ProductResource {
  return { id: product.id, type: 'product', attributes: { title: product.title, feature_count: product.featureCount } };
}
