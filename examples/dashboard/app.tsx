/**
 * The dashboard: a product's exports in a table with live progress, a form to start one, cancel
 * buttons, failure details and download links. Each row of a task the page holds (started here,
 * or completed and listed) follows it with `useExportTask`; the form starts exports with
 * `useStartExport`; the summary counts phases, and the exports started elsewhere that the
 * product's event stream brings are found and followed, with `useTaskStore`.
 */
import { useEffect, useMemo, useState, type FormEvent, type ReactElement } from 'react';
import type { ExportClient, ExportTask, ExportTaskSnapshot, FeatureCollection } from '../../src/index.js';
import { shallowEqual, useExportTask, useStartExport, useTaskStore } from '../../src/react/index.js';
import { BOUNDARY_VERTICES, describeQuery, parseQuery, QUERY_PRESETS } from './queries.js';

/** One row of the table: a task and the query it was started with, for people. */
interface Row {
  readonly task: ExportTask;
  readonly query: string;
}

interface ProductSummary {
  readonly title: string;
  readonly featureCount: number;
}

export function App({ client, productId }: { client: ExportClient; productId: string }): ReactElement {
  const collection = useMemo(() => client.featureCollection(productId), [client, productId]);
  const [rows, setRows] = useState<readonly Row[]>([]);
  const [product, setProduct] = useState<ProductSummary | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    Promise.all([fetchProduct(productId), collection.listExports()]).then(
      ([summary, done]) => {
        if (!live) return;
        setProduct(summary);
        // Newest first, after any started meanwhile.
        const earlier = done.map((task) => ({ task, query: 'started earlier' })).reverse();
        setRows((current) => [...current, ...earlier.filter((row) => !current.some((r) => r.task.exportId === row.task.exportId))]);
      },
      (error: unknown) => live && setLoadError(error instanceof Error ? error.message : String(error)),
    );
    return () => {
      live = false;
    };
  }, [collection, productId]);

  // Exports of the product that the store knows of (from the product's event stream, which
  // replays its whole history once a task of it is followed) but the page holds no task for:
  // those started elsewhere and still running when the page loaded (the list has only completed ones).
  const held = new Set(rows.map((row) => row.task.exportId));
  const elsewhere = useTaskStore(
    client.store,
    (store) => [...store.snapshots()].filter((s) => s.productId === productId && !held.has(s.exportId)).map((s) => s.exportId),
    shallowEqual,
  );

  return (
    <main>
      <header>
        <h1>Exports of “{productId}”</h1>
        <p className="muted">{product === null ? 'Loading…' : `${product.title}: ${product.featureCount.toLocaleString('en')} features`}</p>
        <Summary client={client} ids={[...held, ...elsewhere]} />
      </header>
      {loadError !== null && (
        <p role="alert" className="error">
          {loadError}
        </p>
      )}
      <ExportForm collection={collection} onStarted={(row) => setRows((current) => [row, ...current])} />
      <ExportTable client={client} productId={productId} rows={rows} elsewhere={elsewhere} />
    </main>
  );
}

/** How many of the listed tasks are in each phase: one selection of the store, re-rendered only when a count changes. */
function Summary({ client, ids }: { client: ExportClient; ids: readonly string[] }): ReactElement {
  const counts = useTaskStore(
    client.store,
    (store) => {
      const count = { pending: 0, running: 0, success: 0, failure: 0 };
      for (const id of ids) {
        const phase = store.get(id)?.phase;
        if (phase !== undefined) count[phase]++;
      }
      return count;
    },
    shallowEqual,
  );
  return (
    <p className="summary" aria-label="Summary">
      {counts.pending} pending · {counts.running} running · {counts.success} succeeded · {counts.failure} failed
    </p>
  );
}

let keyCount = 0;
const nextKey = (): string => `exports/roads-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, '')}-${++keyCount}.ndjson`;

function ExportForm({ collection, onStarted }: { collection: FeatureCollection; onStarted: (row: Row) => void }): ReactElement {
  const { startAsync, error, isPending: pending } = useStartExport(collection);
  const [key, setKey] = useState(nextKey);
  const [exprText, setExprText] = useState(JSON.stringify(QUERY_PRESETS[1]!.expr));
  const [vertices, setVertices] = useState(0);
  const [inputError, setInputError] = useState<string | null>(null);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    let query;
    try {
      query = parseQuery(exprText, vertices);
    } catch (parseError) {
      setInputError((parseError as Error).message);
      return;
    }
    setInputError(null);
    // The request's error is shown from `error`: nothing more to do with it here.
    const task = await startAsync(key, { query }).catch(() => undefined);
    if (task === undefined) return;
    onStarted({ task, query: describeQuery(exprText, vertices) });
    setKey(nextKey());
  };

  const shownError = inputError ?? (error === null ? null : `${error.name}: ${error.message}`);
  return (
    <form aria-label="Start an export" onSubmit={(event) => void submit(event)}>
      <label>
        Storage key
        <input name="key" value={key} onChange={(event) => setKey(event.target.value)} />
      </label>
      <label>
        Sample query
        <select
          name="preset"
          value=""
          onChange={(event) => {
            const preset = QUERY_PRESETS[Number(event.target.value)];
            if (preset !== undefined) setExprText(preset.expr === null ? '' : JSON.stringify(preset.expr));
          }}
        >
          <option value="" disabled>
            choose…
          </option>
          {QUERY_PRESETS.map((preset, i) => (
            <option key={preset.label} value={i}>
              {preset.label}
            </option>
          ))}
        </select>
      </label>
      <label className="wide">
        query_expr (JSON; empty for every feature)
        <textarea name="query" rows={2} value={exprText} onChange={(event) => setExprText(event.target.value)} />
      </label>
      <label>
        Within
        <select name="boundary" value={vertices} onChange={(event) => setVertices(Number(event.target.value))}>
          {BOUNDARY_VERTICES.map((n) => (
            <option key={n} value={n}>
              {n === 0 ? 'anywhere' : `a ${n.toLocaleString('en')}-vertex boundary (slow)`}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={pending}>
        {pending ? 'Starting…' : 'Start export'}
      </button>
      {shownError !== null && (
        <p role="alert" className="error">
          {shownError}
        </p>
      )}
    </form>
  );
}

interface TableProps {
  readonly client: ExportClient;
  readonly productId: string;
  readonly rows: readonly Row[];
  /** Ids of exports the page holds no task for. */
  readonly elsewhere: readonly string[];
}

function ExportTable({ client, productId, rows, elsewhere }: TableProps): ReactElement {
  if (rows.length === 0 && elsewhere.length === 0) return <p className="muted">No exports yet: start one above.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th>Export</th>
          <th>Key</th>
          <th>Query</th>
          <th>Phase</th>
          <th>Progress</th>
          <th>Outcome</th>
          <th />
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <ExportRow key={row.task.exportId} row={row} />
        ))}
        {elsewhere.map((id) => (
          <StoreRow key={id} client={client} productId={productId} exportId={id} />
        ))}
      </tbody>
    </table>
  );
}

/** A row of a task the page holds: followed with `useExportTask`, cancelled with `task.cancel()`. */
function ExportRow({ row }: { row: Row }): ReactElement {
  const { task, query } = row;
  const snapshot = useExportTask(task);
  return <RowView snapshot={snapshot} storageKey={snapshot.attributes?.key ?? task.key} query={query} cancel={() => task.cancel()} />;
}

/**
 * A row of an export started elsewhere: its snapshot selected from the store (kept current by the
 * product's event stream), cancelled through the client's backend.
 */
function StoreRow({ client, productId, exportId }: { client: ExportClient; productId: string; exportId: string }): ReactElement | null {
  const snapshot = useTaskStore(client.store, (store) => store.get(exportId));
  if (snapshot === undefined) return null;
  return (
    <RowView
      snapshot={snapshot}
      storageKey={snapshot.attributes?.key ?? undefined}
      query="started elsewhere"
      cancel={() => client.backend.cancel(productId, exportId)}
    />
  );
}

interface RowViewProps {
  readonly snapshot: ExportTaskSnapshot;
  readonly storageKey: string | undefined;
  readonly query: string;
  readonly cancel: () => Promise<void>;
}

function RowView({ snapshot, storageKey: key, query, cancel: requestCancel }: RowViewProps): ReactElement {
  const [actionError, setActionError] = useState<string | null>(null);
  const percent = Math.round(snapshot.progress * 100);
  const attributes = snapshot.attributes;
  const final = attributes !== null;

  const cancel = (): void => {
    requestCancel().catch((error: unknown) => setActionError(`Could not cancel: ${error instanceof Error ? error.message : String(error)}`));
  };

  return (
    <tr data-export-id={snapshot.exportId} data-phase={snapshot.phase}>
      <td>
        <code>{snapshot.exportId}</code>
      </td>
      <td>
        <code>{key}</code>
      </td>
      <td className="query">{query}</td>
      <td>
        <span className={`phase phase-${snapshot.phase}`}>{snapshot.phase}</span>
        {snapshot.cancelRequested && !final && <span className="muted"> (cancelling)</span>}
      </td>
      <td>
        <div className="bar" role="progressbar" aria-label={`Progress of ${snapshot.exportId}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
          <div style={{ width: `${percent}%` }} />
        </div>
        <span className="muted">
          {percent}% {snapshot.message ?? ''}
        </span>
      </td>
      <td>
        {attributes?.status === 'SUCCESS' && (
          <span>
            {formatBytes(attributes.sizeBytes)}, {attributes.runtime?.toFixed(2)} s CPU, {formatBytes(attributes.peakMemoryUsage)} peak
          </span>
        )}
        {attributes?.status === 'FAILURE' && (
          <details className="failure">
            <summary>
              Failed: <span className="failure-type">{attributes.failureType ?? 'unknown'}</span>
            </summary>
            <dl>
              <dt>Failure type</dt>
              <dd className="failure-type">{attributes.failureType ?? 'unknown'}</dd>
              <dt>Exception</dt>
              <dd className="exception">{attributes.exceptionName ?? 'none'}</dd>
              <dt>Stack trace</dt>
              <dd>
                <pre className="stacktrace">{attributes.stacktrace ?? 'none'}</pre>
              </dd>
              <dt>Log</dt>
              <dd>
                <pre className="log">{snapshot.log.length === 0 ? 'empty' : snapshot.log.join('\n')}</pre>
              </dd>
            </dl>
          </details>
        )}
        {actionError !== null && (
          <p role="alert" className="error">
            {actionError}
          </p>
        )}
      </td>
      <td>
        {!final && (
          <button type="button" onClick={cancel} disabled={snapshot.cancelRequested}>
            Cancel
          </button>
        )}
        {attributes?.status === 'SUCCESS' && key !== undefined && (
          <a href={downloadUrl(key)} download={key.split('/').pop()}>
            Download
          </a>
        )}
      </td>
    </tr>
  );
}

/** The Storage route of a key, on this page's origin (where the service is proxied). */
function downloadUrl(key: string): string {
  return `/storage/v1/data/get/${key.split('/').map(encodeURIComponent).join('/')}`;
}

async function fetchProduct(productId: string): Promise<ProductSummary> {
  const response = await fetch(`/vector/v2/products/${encodeURIComponent(productId)}`);
  if (response.status === 404) {
    throw new Error(`The service has no product “${productId}”: run \`npm run dashboard\`, which seeds one, or name another with ?product=<id>.`);
  }
  if (!response.ok) throw new Error(`The service answered ${response.status} for product “${productId}”`);
  const body = (await response.json()) as { data: { attributes: { title: string; feature_count: number } } };
  return { title: body.data.attributes.title, featureCount: body.data.attributes.feature_count };
}

function formatBytes(bytes: number | null): string {
  if (bytes === null) return '?';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
