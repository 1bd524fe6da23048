import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cleanStacktrace } from '../../../src/server/embedded/clean-stacktrace.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url)).replace(/\/$/, '');

describe('cleanStacktrace', () => {
  it('names frames from the package or the module, the data directory as <data-dir>, and keeps only file names elsewhere', () => {
    const trace = [
      "Error: ENOENT: no such file or directory, open '/srv/data/products/p/features.ndjson'",
      `    at run (file://${ROOT}/dist/chunk-ABC.js:454:34)`,
      `    at step (${ROOT}/src/internal/query.ts:12:3)`,
      '    at route (/opt/app/node_modules/fastify/lib/route.js:9:3)',
      '    at other (/usr/lib/node/thing.js:1:1)',
      '    at node:internal/process/task_queues:95:5',
    ].join('\n');
    expect(cleanStacktrace(trace, { dataDir: '/srv/data' })).toBe(
      [
        "Error: ENOENT: no such file or directory, open '<data-dir>/products/p/features.ndjson'",
        '    at run (export-task/dist/chunk-ABC.js:454:34)',
        '    at step (export-task/src/internal/query.ts:12:3)',
        '    at route (fastify/lib/route.js:9:3)',
        '    at other (thing.js:1:1)',
        '    at node:internal/process/task_queues:95:5',
      ].join('\n'),
    );
  });

  it('keeps relative paths of messages, and everything with fullPaths', () => {
    expect(cleanStacktrace('Cannot write "out/a.ndjson": "out" exists and is not a directory')).toBe(
      'Cannot write "out/a.ndjson": "out" exists and is not a directory',
    );
    expect(cleanStacktrace(`at x (${ROOT}/a.js:1:1)`, { fullPaths: true })).toBe(`at x (${ROOT}/a.js:1:1)`);
    expect(cleanStacktrace(null)).toBeNull();
  });
});
