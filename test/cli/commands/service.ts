/**
 * What the tests of the commands that talk to a service share: a real server on 127.0.0.1
 * over a temporary data directory, a product with a succeeded and a failed export, and a way
 * to run a command in this process with its output collected.
 */
import { createClient, type ExportClient, type ExportTask, type FeatureCollection } from '../../../src/index.node.js';
import { gridFeatures, startTestServer, type TestServer } from '../../server/http/helpers.js';
import { captureOutput } from '../captured-output.js';

/** A running service with a product `roads` and two final exports. */
export interface Service {
  readonly server: TestServer;
  readonly url: string;
  readonly client: ExportClient;
  readonly roads: FeatureCollection;
  /** Succeeded: the `even` features. */
  readonly succeeded: ExportTask;
  /** Failed with `exception` / `QueryTypeError`. */
  readonly failed: ExportTask;
  dispose(): Promise<void>;
}

/** The features of `roads`: 300 points, half of them `kind: "even"`. */
export const ROADS = gridFeatures(300);

/** Starts the service and makes its two final exports. */
export async function startService(token?: string): Promise<Service> {
  const server = await startTestServer({ concurrency: 1, ...(token === undefined ? {} : { token }) });
  const client = createClient({ url: server.url, ...(token === undefined ? {} : { token }) });
  const roads = await client.createFeatureCollection('roads', { title: 'Roads' });
  await roads.add(ROADS);
  const succeeded = await roads.export('exports/even.ndjson', { query: { query_expr: { eq: { kind: 'even' } } } });
  // A number bound on a string property: the job throws.
  const failed = await roads.export('exports/bad.ndjson', { query: { query_expr: { range: { name: { gte: 100 } } } } });
  await Promise.all([succeeded.getResult({ wait: true, timeout: 60_000 }), failed.getResult({ wait: true, timeout: 60_000 })]);
  return {
    server,
    url: server.url,
    client,
    roads,
    succeeded,
    failed,
    async dispose() {
      await client.close();
      await server.dispose();
    },
  };
}

/** The shape of a command, as far as running it goes. */
interface Runnable<TOptions> {
  parse(values: Readonly<Record<string, string | boolean | undefined>>, positionals: readonly string[]): TOptions;
  run(options: TOptions, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: Readonly<Record<string, string | undefined>>; signal: AbortSignal }): Promise<number>;
}

/** What a command printed and its exit code. */
export interface CommandRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command in this process, its flags already parsed, stdout a pipe (not a TTY, unless
 * `terminalColumns` makes it one).
 * `onStdout` sees the output so far each time more arrives.
 */
export async function runCommand<TOptions>(
  command: Runnable<TOptions>,
  values: Readonly<Record<string, string | boolean | undefined>>,
  positionals: readonly string[],
  options: { env?: Record<string, string>; signal?: AbortSignal; onStdout?: (stdoutSoFar: string) => void; terminalColumns?: number } = {},
): Promise<CommandRun> {
  const { stdout, stderr, out, err } = captureOutput(options.onStdout);
  // A terminal as the command sees one: `isTTY` and a width.
  if (options.terminalColumns !== undefined) Object.assign(stdout, { isTTY: true, columns: options.terminalColumns });
  const code = await command.run(command.parse(values, positionals), {
    stdout,
    stderr,
    env: options.env ?? {},
    signal: options.signal ?? new AbortController().signal,
  });
  stdout.end();
  stderr.end();
  // The last chunks are delivered on the next ticks.
  await new Promise((resolve) => setImmediate(resolve));
  return { code, stdout: out(), stderr: err() };
}
