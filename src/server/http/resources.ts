import type { ProductInfo } from '../../client/backend.js';
import type { WireAttributes } from '../../core/events.js';
import type { ExportRecord } from '../embedded/export-record.js';

/** A final export as DL's result and list routes send it. @internal */
export interface ExportResource {
  readonly id: string;
  readonly type: 'export';
  readonly attributes: WireAttributes;
}

/** A product as the product routes send it. @internal */
export interface ProductResource {
  readonly id: string;
  readonly type: 'product';
  readonly attributes: { readonly title: string; readonly feature_count: number };
}

/**
 * The DL resource of a final export: DL's attribute names, every one present (null when it
 * has no value; DL sent the string "None", which clients read as null too).
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
    },
  };
}

/** @internal */
export function productResource(product: ProductInfo): ProductResource {
  return { id: product.id, type: 'product', attributes: { title: product.title, feature_count: product.featureCount } };
}
