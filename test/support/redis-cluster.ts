import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { startServer, type ExportServer } from '../../src/server/index.js';
import type { RedisCluster } from './redis-cluster-nodes.js';
import type { RedisServer } from './redis-server.js';

/** What the service runs on: one `redis-server`, or a Redis Cluster of them. */
export type RedisUnderTest = RedisServer | RedisCluster;

/** The flags that name it on the command line. */
function redisFlags(redis: RedisUnderTest): string[] {
  return 'seeds' in redis ? ['--redis-cluster', redis.seeds] : ['--redis', redis.url];
}

/** A worker process (`export-task worker`), run from source. */
export interface WorkerProcess {
  readonly pid: number;
  /** SIGKILL: the process dies at once, its jobs' locks are left to expire. */
  kill(): Promise<void>;
  /** SIGTERM: it stops taking jobs, lets its running ones end, and exits. */
  stop(): Promise<void>;
}

/**
 * The command line: built (the test command builds first), where a job's worker thread starts
 * in milliseconds, or from source with tsx, where each one loads the TypeScript loader.
 */
const CLI = existsSync('dist/cli.js') ? ['dist/cli.js'] : ['--import', 'tsx', 'src/cli/main.ts'];

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Starts `export-task worker` as a child process and resolves once it says it is ready. */
export async function startWorkerProcess(
  redis: RedisUnderTest,
  dataDir: string,
  options: { concurrency?: number; lockDurationMs?: number | null } = {},
): Promise<WorkerProcess> {
  const child = spawn(
    process.execPath,
    [
      ...CLI,
      'worker',
      ...redisFlags(redis),
      '--data-dir',
      dataDir,
      '--concurrency',
      String(options.concurrency ?? 2),
      // null: the worker's own default.
      ...(options.lockDurationMs === null ? [] : ['--lock-duration-ms', String(options.lockDurationMs ?? 1_000)]),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } },
  );
  live.add(child);
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (output += text));
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    live.delete(child);
    resolve();
  }));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the worker did not start within 20 s: ${output}`)), 20_000);
    const check = (): void => {
      if (output.includes('export-task worker ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the worker exited with code ${code}: ${output}`));
    });
  });
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(name);
    await exited;
  };
  return { pid: child.pid!, kill: () => signal('SIGKILL'), stop: () => signal('SIGTERM') };
}

/** API instances on one Redis (or one cluster) and one shared directory, in this process. */
export async function startApiInstances(redis: RedisUnderTest, dataDir: string, count: number, options: { readonly redisTimeoutMs?: number } = {}): Promise<ExportServer[]> {
  const servers: ExportServer[] = [];
  const where = 'seeds' in redis ? { redisCluster: redis.seeds } : { redis: redis.url };
  for (let i = 0; i < count; i++) servers.push(await startServer({ ...where, dataDir, heartbeatMs: 1_000, ...options }));
  return servers;
}
