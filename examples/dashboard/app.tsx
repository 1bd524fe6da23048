/**
 * The dashboard: a product's exports in a table with live progress, a form to start one, cancel
 * buttons, failure details (type, exception, a scrollable stack trace) and downloads (fetched
 * with the page's token and verified, then saved). Each row of a task the page holds (started here,
 * or completed and listed) follows it with `useExportTask`; the form starts exports with
 * `useStartExport`; the summary counts phases, and the exports started elsewhere that the
 * product's event stream brings are found and followed, with `useTaskStore`.
 */
import { useEffect, useMemo, useState, type FormEvent, type ReactElement } from 'react';
import { ForbiddenError, UnauthorizedError, type AccessTokenRequest, type ExportClient, type ExportTask, type ExportTaskSnapshot, type FeatureCollection } from '../../src/index.js';
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

interface AppProps {
  readonly client: ExportClient;
  readonly productId: string;
  /** The page's token function (the client's too), for the one request the client does not make. */
  readonly token: (request: AccessTokenRequest) => Promise<string>;
  readonly serviceUrl: string;
}

export function App({ client, productId, token, serviceUrl }: AppProps): ReactElement {
  const collection = useMemo(() => client.featureCollection(productId), [client, productId]);
  const [rows, setRows] = useState<readonly Row[]>([]);
  const [product, setProduct] = useState<ProductSummary | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    // The page shows every export of the product, whoever started it: the client follows them all.
    Promise.all([fetchProduct(serviceUrl, productId, token), collection.listExports(), collection.followAll()]).then(
      ([summary, done]) => {
        if (!live) return;
        setProduct(summary);
        // Newest first, after any started meanwhile.
        const earlier = done.map((task) => ({ task, query: 'started earlier' })).reverse();
        setRows((current) => [...current, ...earlier.filter((row) => !current.some((r) => r.task.exportId === row.task.exportId))]);
      },
      (error: unknown) => live && setLoadError(describeError(error)),
    );
    return () => {
      live = false;
    };
  }, [collection, productId, serviceUrl, token]);

  // Exports of the product that the store knows of (followAll() keeps every export of the
  // product, those in flight when the page loaded and those started later) but the page holds
  // no task for: those started elsewhere.
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
      <ExportTable client={client} collection={collection} rows={rows} elsewhere={elsewhere} />
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

  const shownError = inputError ?? (error === null ? null : describeError(error));
  return (
    <form aria-label="Start an export" onSubmit={(event) => void submit(event)}>
      <label className="wide">
        Storage key
        <input name="key" value={key} spellCheck={false} onChange={(event) => setKey(event.target.value)} />
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
  readonly collection: FeatureCollection;
  readonly rows: readonly Row[];
  /** Ids of exports the page holds no task for. */
  readonly elsewhere: readonly string[];
}

function ExportTable({ client, collection, rows, elsewhere }: TableProps): ReactElement {
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
          <StoreRow key={id} client={client} collection={collection} exportId={id} />
        ))}
      </tbody>
    </table>
  );
}

/** A row of a task the page holds: followed with `useExportTask`, cancelled with `task.cancel()`. */
function ExportRow({ row }: { row: Row }): ReactElement {
  const { task, query } = row;
  const snapshot = useExportTask(task);
  return <RowView snapshot={snapshot} storageKey={snapshot.attributes?.key ?? task.key} query={query} cancel={() => task.cancel()} download={() => saveFile(task)} />;
}

/**
 * A row of an export started elsewhere: its snapshot selected from the store (kept current by the
 * product's event stream), cancelled through the client's backend.
 */
function StoreRow({ client, collection, exportId }: { client: ExportClient; collection: FeatureCollection; exportId: string }): ReactElement | null {
  const snapshot = useTaskStore(client.store, (store) => store.get(exportId));
  if (snapshot === undefined) return null;
  return (
    <RowView
      snapshot={snapshot}
      storageKey={snapshot.attributes?.key ?? undefined}
      query="started elsewhere"
      cancel={() => client.backend.cancel(collection.id, exportId)}
      download={async () => saveFile(await collection.getExport(exportId))}
    />
  );
}

interface RowViewProps {
  readonly snapshot: ExportTaskSnapshot;
  readonly storageKey: string | undefined;
  readonly query: string;
  readonly cancel: () => Promise<void>;
  readonly download: () => Promise<void>;
}

function RowView({ snapshot, storageKey: key, query, cancel: requestCancel, download: requestDownload }: RowViewProps): ReactElement {
  const [actionError, setActionError] = useState<string | null>(null);
  const percent = Math.round(snapshot.progress * 100);
  const attributes = snapshot.attributes;
  const final = attributes !== null;

  const cancel = (): void => {
    requestCancel().catch((error: unknown) => setActionError(`Could not cancel: ${describeError(error)}`));
  };
  const download = (): void => {
    requestDownload().catch((error: unknown) => setActionError(`Could not download: ${describeError(error)}`));
  };
  // A cancel the user asked for is its own outcome, not a red failure.
  const cancelled = attributes?.status === 'FAILURE' && attributes.failureType === 'cancelled';
  const shownPhase = cancelled ? 'cancelled' : snapshot.phase;

  return (
    <tr data-export-id={snapshot.exportId} data-phase={snapshot.phase}>
      <td data-label="Export" className="id">
        <code>{snapshot.exportId}</code>
      </td>
      <td data-label="Key" className="key">
        <code>{key}</code>
      </td>
      <td data-label="Query" className="query">
        {query}
      </td>
      <td data-label="Phase">
        <span className={`phase phase-${shownPhase}`}>{shownPhase}</span>
        {snapshot.cancelRequested && !final && <span className="muted"> (cancelling)</span>}
      </td>
      <td data-label="Progress">
        <div className="bar" role="progressbar" aria-label={`Progress of ${snapshot.exportId}`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
          <div style={{ width: `${percent}%` }} />
        </div>
        <span className="muted">
          {percent}% {snapshot.message ?? ''}
        </span>
      </td>
      <td data-label="Outcome" className="outcome">
        {attributes?.status === 'SUCCESS' && (
          <span>
            {formatBytes(attributes.sizeBytes)}, {attributes.runtime?.toFixed(2)} s CPU, {formatBytes(attributes.peakMemoryUsage)} peak
          </span>
        )}
        {cancelled && <span className="muted cancelled-note">Cancelled on request</span>}
        {attributes?.status === 'FAILURE' && !cancelled && (
          <div className="failure">
            <dl>
              <dt>Failure type</dt>
              <dd className="failure-type">{attributes.failureType ?? 'unknown'}</dd>
              <dt>Exception</dt>
              <dd className="exception">{attributes.exceptionName ?? 'none'}</dd>
            </dl>
            <pre className="stacktrace" tabIndex={0} aria-label={`Stack trace of ${snapshot.exportId}`}>
              {attributes.stacktrace ?? 'no stack trace'}
            </pre>
          </div>
        )}
        {attributes?.status === 'FAILURE' && (
          <details className="log">
            <summary>Log ({snapshot.log.length} lines)</summary>
            <pre className="log">{snapshot.log.length === 0 ? 'empty' : snapshot.log.join('\n')}</pre>
          </details>
        )}
        {actionError !== null && (
          <p role="alert" className="error">
            {actionError}
          </p>
        )}
      </td>
      <td data-label="">
        {!final && (
          <button type="button" onClick={cancel} disabled={snapshot.cancelRequested}>
            Cancel
          </button>
        )}
        {attributes?.status === 'SUCCESS' && (
          <button type="button" onClick={download}>
            Download
          </button>
        )}
      </td>
    </tr>
  );
}

/**
 * Downloads the task's file with the client (so with the page's token, which a plain link
 * cannot send), verified against its size and SHA-256, then hands it to the browser to save.
 */
async function saveFile(task: ExportTask): Promise<void> {
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  await task.getFile(new WritableStream<Uint8Array>({ write: (chunk) => void chunks.push(new Uint8Array(chunk)) }));
  const url = URL.createObjectURL(new Blob(chunks, { type: 'application/x-ndjson' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = (task.key ?? `${task.exportId}.ndjson`).split('/').pop()!;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** What went wrong, for people: a refused token says so, and what to do. */
function describeError(error: unknown): string {
  if (error instanceof UnauthorizedError) return `The export service refused this page's access token: ${error.message}. Reload the page to get a new one.`;
  if (error instanceof ForbiddenError) return `This page's access token does not allow that: ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The product's title and size, from the service, with the page's token. */
async function fetchProduct(serviceUrl: string, productId: string, token: (request: AccessTokenRequest) => Promise<string>): Promise<ProductSummary> {
  const response = await fetch(`${serviceUrl}/vector/v2/products/${encodeURIComponent(productId)}`, { headers: { authorization: `Bearer ${await token({ refresh: false })}` } });
  const what = `GET /vector/v2/products/${productId}: ${response.status}`;
  if (response.status === 401) throw new UnauthorizedError(`${what}: ${await detail(response)}`);
  if (response.status === 403) throw new ForbiddenError(`${what}: ${await detail(response)}`);
  if (response.status === 404) throw new Error(`The service has no product “${productId}”: run \`npm run dashboard\`, which seeds one.`);
  if (!response.ok) throw new Error(`The service answered ${response.status} for product “${productId}”`);
  const body = (await response.json()) as { data: { attributes: { title: string; feature_count: number } } };
  return { title: body.data.attributes.title, featureCount: body.data.attributes.feature_count };
}

async function detail(response: Response): Promise<string> {
  const body = (await response.json().catch(() => undefined)) as { errors?: { detail?: string }[] } | undefined;
  return body?.errors?.[0]?.detail ?? response.statusText;
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
