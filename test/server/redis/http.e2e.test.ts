import { afterAll, beforeAll } from 'vitest';
import { createClient } from '../../../src/index.node.js';
import { exportScenarios } from '../../support/export-scenarios.js';
import { startApiInstances, startWorkerProcess } from '../../support/redis-cluster.js';
import { startRedisServer, type RedisServer } from '../../support/redis-server.js';

let redis: RedisServer;

beforeAll(async () => {
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis.stop();
});

// Each client goes to the next API instance, so the scenarios' second client (listing what
// the first one exported) asks the other instance.
exportScenarios('ExportTask over HTTP on Redis: two API instances, two worker processes', async (dataDir) => {
  const servers = await startApiInstances(redis, dataDir, 2);
  const workers = await Promise.all([startWorkerProcess(redis, dataDir), startWorkerProcess(redis, dataDir)]);
  let next = 0;
  return {
    dataDir,
    client: (options) => createClient({ ...options, url: servers[next++ % servers.length]!.url }),
    close: async () => {
      await Promise.all(workers.map((worker) => worker.stop()));
      await Promise.all(servers.map((server) => server.close()));
    },
  };
});
