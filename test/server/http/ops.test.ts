import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createServiceLogger } from '../../../src/server/http/logging.js';
import { startServer, type ServerOptions } from '../../../src/server/index.js';
import { HAS_PROMTOOL, namingProblems, promtoolCheck, sample, scrape } from '../../support/prometheus.js';
import { allFinal, call, errorDetail, gridFeatures, openEvents, slowFeatures, SLOW_QUERY, startTestServer, waitFor, type TestServer } from './helpers.js';

const TOKEN = 'ops-SECRET-token';
const EXPORTS = '/vector/v2/products/roads/search/export';

/** Log lines written to a pipe, parsed. */
function logSink(): { readonly destination: PassThrough; readonly lines: () => Record<string, unknown>[]; readonly text: () => string } {
  const destination = new PassThrough();
  let text = '';
  destination.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return {
    destination,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

let served: TestServer | undefined;

afterEach(async () => {
  await served?.dispose();
  served = undefined;
});

async function start(options: ServerOptions): Promise<TestServer> {
  served = await startTestServer(options);
  return served;
}

/** A product `roads` of 300 points, a succeeded and a failed export, both final (followed on an event stream). */
async function runTwoExports(url: string, token?: string): Promise<{ succeeded: string; failed: string; delivered: number }> {
  const auth = token === undefined ? {} : { token };
  expect((await call(url, 'POST', '/vector/v2/products', { body: { id: 'roads' }, ...auth })).status).toBe(201);
  expect((await call(url, 'POST', '/vector/v2/products/roads/features', { body: gridFeatures(300), ...auth })).status).toBe(200);
  const stream = await openEvents(url, 'roads', auth);
  const ok = await call<{ export_id: string }>(url, 'POST', EXPORTS, { body: { key: 'out/even.ndjson', query: { query_expr: { eq: { kind: 'even' } } } }, ...auth });
  // A number bound on a string property: the job throws.
  const bad = await call<{ export_id: string }>(url, 'POST', EXPORTS, { body: { key: 'out/bad.ndjson', query: { query_expr: { range: { name: { gte: 100 } } } } }, ...auth });
  const ids = [ok.body.export_id, bad.body.export_id];
  await stream.reader!.until((reader) => allFinal(reader, ids), 60_000);
  const delivered = stream.reader!.messages.length;
  await stream.close();
  return { succeeded: ids[0]!, failed: ids[1]!, delivered };
}

describe('GET /health and GET /ready', () => {
  it('answer without the token, naming the checks and nothing of the products', async () => {
    const { url } = await start({ token: TOKEN });
    const health = await call(url, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    const ready = await call(url, 'GET', '/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready', checks: { sqlite: 'ok', jobs: 'ok' } });
    expect(ready.headers.get('cache-control')).toBe('no-store');
    // The product routes still need the token.
    expect((await call(url, 'GET', '/vector/v2/products/roads')).status).toBe(401);
    // Only GET is public: a POST to /health is an unknown route behind the token.
    expect((await call(url, 'POST', '/health')).status).toBe(401);
  });
});

describe('GET /metrics', () => {
  it('needs the token unless metricsPublic', async () => {
    const guarded = await start({ token: TOKEN });
    const refused = await call(guarded.url, 'GET', '/metrics');
    expect(refused.status).toBe(401);
    expect(errorDetail(refused)).toContain('needs a token');
    expect((await scrape(guarded.url, TOKEN)).families.length).toBeGreaterThan(0);
    await guarded.dispose();

    const open = await start({ token: TOKEN, metricsPublic: true });
    expect((await scrape(open.url)).families.length).toBeGreaterThan(0);
    expect((await call(open.url, 'GET', '/vector/v2/products/roads')).status).toBe(401);
  });

  it('counts requests by route pattern, exports by outcome and events as real exports run, with Prometheus names promtool accepts', async () => {
    const { url } = await start({ concurrency: 1 });
    const before = await scrape(url);
    expect(sample(before.samples, 'export_task_exports_started_total')).toBe(0);

    const { succeeded, failed, delivered } = await runTwoExports(url);
    // The server sees the stream's close once the socket's end reaches it.
    await waitFor(async () => sample((await scrape(url)).samples, 'export_task_event_streams_open') === 0, 5000, 'the stream to close');
    const after = await scrape(url);
    const s = after.samples;
    expect(sample(s, 'export_task_http_requests_total', { method: 'POST', route: '/vector/v2/products/:product_id/search/export', status: '200' })).toBe(2);
    expect(sample(s, 'export_task_http_requests_total', { method: 'POST', route: '/vector/v2/products', status: '201' })).toBe(1);
    expect(sample(s, 'export_task_http_request_duration_seconds_count', { method: 'POST', route: '/vector/v2/products/:product_id/features' })).toBe(1);
    // The event stream, answered by the route itself, is counted once it ends.
    expect(sample(s, 'export_task_http_requests_total', { method: 'GET', route: '/vector/v2/products/:product_id/search/export/events', status: '200' })).toBe(1);
    expect(sample(s, 'export_task_exports_started_total')).toBe(2);
    expect(sample(s, 'export_task_jobs_started_total')).toBe(2);
    expect(sample(s, 'export_task_exports_ended_total', { outcome: 'succeeded', failure_type: 'none' })).toBe(1);
    expect(sample(s, 'export_task_exports_ended_total', { outcome: 'failed', failure_type: 'exception' })).toBe(1);
    expect(sample(s, 'export_task_job_duration_seconds_count', { outcome: 'succeeded' })).toBe(1);
    expect(sample(s, 'export_task_job_duration_seconds_count', { outcome: 'failed' })).toBe(1);
    expect(sample(s, 'export_task_job_peak_memory_bytes_count', { outcome: 'succeeded' })).toBe(1);
    expect(sample(s, 'export_task_job_peak_memory_bytes_sum', { outcome: 'succeeded' })).toBeGreaterThan(1024 * 1024);
    expect(sample(s, 'export_task_events_appended_total', { type: 'queued' })).toBe(2);
    expect(sample(s, 'export_task_events_appended_total', { type: 'succeeded' })).toBe(1);
    expect(sample(s, 'export_task_events_appended_total', { type: 'failed' })).toBe(1);
    expect(sample(s, 'export_task_events_delivered_total')).toBe(delivered);
    expect(sample(s, 'export_task_exports_running')).toBe(0);
    expect(sample(s, 'export_task_exports_queued')).toBe(0);
    expect(sample(s, 'export_task_event_streams_open')).toBe(0);
    // Series are per route pattern, never per URL: no export id in any label.
    expect(after.text).not.toContain(succeeded);
    expect(after.text).not.toContain(failed);

    expect(namingProblems(after.families, 'export_task_')).toEqual([]);
    if (HAS_PROMTOOL) expect(await promtoolCheck(after.text)).toBe('');
  });

  it('counts the exports running and queued now, and cancelled ones as ended', async () => {
    const { url } = await start({ concurrency: 1 });
    await call(url, 'POST', '/vector/v2/products', { body: { id: 'slow' } });
    await call(url, 'POST', '/vector/v2/products/slow/features', { body: slowFeatures(20_000) });
    const exportOf = async (key: string): Promise<string> =>
      (await call<{ export_id: string }>(url, 'POST', '/vector/v2/products/slow/search/export', { body: { key, query: SLOW_QUERY } })).body.export_id;
    // The first holds the only job slot for seconds; the second waits for it.
    const running = await exportOf('running.ndjson');
    const waiting = await exportOf('waiting.ndjson');
    await waitFor(async () => sample((await scrape(url)).samples, 'export_task_jobs_started_total') === 1, 20_000, 'the first job to start');
    const busy = (await scrape(url)).samples;
    expect(sample(busy, 'export_task_exports_running')).toBe(1);
    expect(sample(busy, 'export_task_exports_queued')).toBe(1);
    for (const id of [waiting, running]) expect((await call(url, 'POST', `/vector/v2/products/slow/search/export/${id}/cancel`)).status).toBe(202);
    await waitFor(async () => sample((await scrape(url)).samples, 'export_task_exports_ended_total') === 2, 20_000, 'both exports to end');
    const idle = (await scrape(url)).samples;
    expect(sample(idle, 'export_task_exports_ended_total', { outcome: 'failed', failure_type: 'cancelled' })).toBe(2);
    expect(sample(idle, 'export_task_exports_running')).toBe(0);
    expect(sample(idle, 'export_task_exports_queued')).toBe(0);
    expect(sample(idle, 'export_task_events_appended_total', { type: 'cancel_requested' })).toBe(2);
  });

  it('counts the event streams open now', async () => {
    const { url } = await start({});
    await call(url, 'POST', '/vector/v2/products', { body: { id: 'roads' } });
    const streams = await Promise.all([openEvents(url, 'roads'), openEvents(url, 'roads')]);
    expect(sample((await scrape(url)).samples, 'export_task_event_streams_open')).toBe(2);
    await streams[0].close();
    await waitFor(async () => sample((await scrape(url)).samples, 'export_task_event_streams_open') === 1, 5000, 'one stream to close');
    await streams[1].close();
  });

  it.skipIf(!HAS_PROMTOOL)('is a text promtool finds fault with when a rule is broken (the check can fail)', async () => {
    expect(await promtoolCheck('# HELP bad_counter a counter without _total\n# TYPE bad_counter counter\nbad_counter 1\n')).toMatch(/bad_counter.*_total/);
  });
});

describe('the service log', () => {
  it('has one JSON line per request with its id, echoed in X-Request-Id, and never a token', async () => {
    const sink = logSink();
    const { url } = await start({ token: TOKEN, logger: { destination: sink.destination } });
    const given = await call(url, 'GET', '/vector/v2/products/none', { token: TOKEN, headers: { 'x-request-id': 'trace-42' } });
    expect(given.status).toBe(404);
    expect(given.headers.get('x-request-id')).toBe('trace-42');
    const made = await call(url, 'GET', '/health');
    const madeId = made.headers.get('x-request-id');
    expect(madeId).toMatch(/^[0-9a-f-]{36}$/);
    // An id with a space, or too long to be one, is replaced.
    const spaced = await call(url, 'GET', '/health', { headers: { 'x-request-id': 'two words' } });
    expect(spaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect((await call(url, 'GET', '/health', { headers: { 'x-request-id': 'x'.repeat(129) } })).headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // Refused requests are logged too, their token neither in the header nor in the URL.
    const refused = await call(url, 'GET', '/vector/v2/products/roads?access_token=url-SECRET-token', { headers: { authorization: 'Bearer wrong-SECRET-token' } });
    expect(refused.status).toBe(401);
    await new Promise((resolve) => setImmediate(resolve));

    const lines = sink.lines();
    const requests = lines.filter((line) => line['msg'] === 'request answered');
    expect(requests).toHaveLength(5);
    const traced = requests.filter((line) => line['request_id'] === 'trace-42');
    expect(traced).toHaveLength(1);
    expect(traced[0]).toMatchObject({
      level: 'info',
      status: 404,
      route: '/vector/v2/products/:product_id',
      req: { method: 'GET', url: '/vector/v2/products/none' },
    });
    expect(typeof traced[0]!['response_time_ms']).toBe('number');
    expect(requests.filter((line) => line['request_id'] === madeId)).toHaveLength(1);
    const unauthorized = requests.find((line) => line['status'] === 401)!;
    expect(unauthorized['req']).toMatchObject({ url: '/vector/v2/products/roads?access_token=[redacted]' });
    expect(sink.text()).not.toMatch(/SECRET/);
    expect(sink.text()).not.toMatch(/authorization/i);
  });

  it('has a line when each export is queued, starts and ends, with its outcome', async () => {
    const sink = logSink();
    const { url } = await start({ concurrency: 1, logger: { destination: sink.destination } });
    const { succeeded, failed } = await runTwoExports(url);
    const lines = sink.lines().filter((line) => typeof line['event'] === 'string' && (line['event']).startsWith('export_'));
    const of = (id: string): unknown[] => lines.filter((line) => line['export_id'] === id).map(({ event, outcome, failure_type }) => ({ event, outcome, failure_type }));
    expect(of(succeeded)).toEqual([
      { event: 'export_queued', outcome: undefined, failure_type: undefined },
      { event: 'export_started', outcome: undefined, failure_type: undefined },
      { event: 'export_ended', outcome: 'succeeded', failure_type: undefined },
    ]);
    expect(of(failed)).toEqual([
      { event: 'export_queued', outcome: undefined, failure_type: undefined },
      { event: 'export_started', outcome: undefined, failure_type: undefined },
      { event: 'export_ended', outcome: 'failed', failure_type: 'exception' },
    ]);
    expect(lines.find((line) => line['export_id'] === failed && line['event'] === 'export_ended')).toMatchObject({ level: 'warn', product_id: 'roads' });
  });

  it('logs at the level asked: warn leaves out the request lines', async () => {
    const sink = logSink();
    const { url } = await start({ logger: { level: 'warn', destination: sink.destination } });
    expect((await call(url, 'GET', '/health')).status).toBe(200);
    expect((await call(url, 'GET', '/nowhere')).status).toBe(404);
    await new Promise((resolve) => setImmediate(resolve));
    expect(sink.text()).toBe('');
  });

  it('redacts credentials whoever logs them', () => {
    const sink = logSink();
    const logger = createServiceLogger({ destination: sink.destination });
    logger.info({ req: { headers: { authorization: 'Bearer a-SECRET', cookie: 'b-SECRET' } }, token: 'c-SECRET', redis: { token: 'd-SECRET' } }, 'hello');
    logger.flush();
    const [line] = sink.lines();
    expect(line).toMatchObject({ level: 'info', msg: 'hello', service: 'export-task', token: '[redacted]', redis: { token: '[redacted]' } });
    expect(sink.text()).not.toContain('SECRET');
  });
});

describe('startServer() operations options', () => {
  it.each([
    [{ logger: 'loud' }, 'Expected `logger` to be a boolean or { level, destination }'],
    [{ logger: { level: 'loud' } }, 'Expected `logger.level` to be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ logger: { colour: true } }, 'Unknown option `logger.colour`'],
    [{ logger: { destination: 'stdout' } }, 'Expected `logger.destination` to be a writable stream'],
    [{ logger: { pretty: 'yes' } }, 'Expected `logger.pretty` to be a boolean, got "yes"'],
    [{ metricsPublic: 'yes' }, 'Expected `metricsPublic` to be a boolean, got "yes"'],
    [{ shutdownDelayMs: -1 }, 'Expected `shutdownDelayMs` to be a number of milliseconds from 0'],
  ])('refuses %j before opening anything', async (options, message) => {
    await expect(startServer(options as ServerOptions)).rejects.toThrow(message);
  });
});
