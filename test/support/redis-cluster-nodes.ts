import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One master of a {@link RedisCluster}. */
export interface ClusterNode {
  readonly port: number;
  /** `127.0.0.1:<port>`, as `--redis-cluster` and `CLUSTER SLOTS` name it. */
  readonly address: string;
  /** SIGKILL: the master dies at once; with no replica, its slots stay without a master. */
  kill(): Promise<void>;
}

/** A real Redis Cluster of three masters (no replica) on 127.0.0.1, without persistence. */
export interface RedisCluster {
  readonly nodes: readonly ClusterNode[];
  /** The seed nodes, comma-separated: what `--redis-cluster` takes. */
  readonly seeds: string;
  /** The master serving `key`'s slot (`CLUSTER KEYSLOT`, then the slot ranges of `CLUSTER SLOTS`). */
  nodeOf(key: string): Promise<ClusterNode>;
  /** Stops every node and removes their directory; also done on process exit. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

async function freePorts(count: number): Promise<number[]> {
  // Held open together, so that the same port is not handed out twice.
  const servers = await Promise.all(
    Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(server));
    })),
  );
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

async function cli(port: number, ...args: string[]): Promise<string> {
  return (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 10_000 })).stdout;
}

/**
 * Starts three `redis-server --cluster-enabled yes` on free ports of 127.0.0.1, joins them
 * with `redis-cli --cluster create` (three masters, no replica), and resolves once every
 * node says `cluster_state:ok`.
 *
 * `cluster-require-full-coverage no`: a master that dies takes only its own slots with it,
 * which is how the service is meant to run on a cluster without replicas (docs/server.md).
 * `cluster-node-timeout` is short so that the others mark a dead master failed quickly.
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'export-task-redis-cluster-'));
  const ports = await freePorts(3);
  const children: ChildProcess[] = [];
  let output = '';
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      const child = spawn(
        'redis-server',
        [
          '--port', String(port),
          '--bind', '127.0.0.1',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout', '1000',
          '--cluster-require-full-coverage', 'no',
          '--dir', dir,
          '--save', '',
          '--appendonly', 'no',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.on('error', (error) => (output += `\n${error.message}: install the redis-server package (apt-get install redis-server)`));
      child.stdout?.setEncoding('utf8').on('data', (text: string) => (output = (output + text).slice(-4000)));
      child.stderr?.setEncoding('utf8').on('data', (text: string) => (output = (output + text).slice(-4000)));
      live.add(child);
      child.once('exit', () => live.delete(child));
      children.push(child);
    }
    for (const port of ports) {
      for (let i = 0; ; i++) {
        if (await cli(port, 'PING').then((answer) => answer.trim() === 'PONG', () => false)) break;
        if (i === 200) throw new Error(`redis-server did not answer on 127.0.0.1:${port}: ${output}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
    await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 20_000 });
    for (const port of ports) {
      for (let i = 0; ; i++) {
        if (/cluster_state:ok/.test(await cli(port, 'CLUSTER', 'INFO'))) break;
        if (i === 400) throw new Error(`the cluster did not reach cluster_state:ok on 127.0.0.1:${port}: ${await cli(port, 'CLUSTER', 'INFO')}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const nodes: ClusterNode[] = ports.map((port, i) => ({
    port,
    address: `127.0.0.1:${port}`,
    kill: async () => {
      const child = children[i]!;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  }));
  return {
    nodes,
    seeds: nodes.map((node) => node.address).join(','),
    nodeOf: async (key) => {
      const alive = nodes.find((node) => children[nodes.indexOf(node)]!.exitCode === null && children[nodes.indexOf(node)]!.signalCode === null)!;
      const slot = Number((await cli(alive.port, 'CLUSTER', 'KEYSLOT', key)).trim());
      // `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <state> <slot ranges...>`, one line per node.
      for (const line of (await cli(alive.port, 'CLUSTER', 'NODES')).trim().split('\n')) {
        const fields = line.split(' ');
        const port = Number(/:(\d+)@/.exec(fields[1] ?? '')?.[1]);
        const serves = fields.slice(8).some((range) => {
          const [from, to = from] = range.split('-').map(Number);
          return from !== undefined && slot >= from && slot <= to!;
        });
        const node = nodes.find((n) => n.port === port);
        if (serves && node !== undefined) return node;
      }
      throw new Error(`no master serves slot ${slot} of ${key}`);
    },
    stop,
  };
}
