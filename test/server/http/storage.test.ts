import { request } from 'node:http';
import { readFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotEvent } from '../../../src/core/events.js';
import { call, errorDetail, footprint, gridFeatures, startTestServer, waitFor } from './helpers.js';
import type { TestServer } from './helpers.js';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
  await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'p' } });
  await call(t.url, 'POST', '/vector/v2/products/p/features', { body: gridFeatures(40_000) });
  for (const [key, query] of [
    ['small/out.ndjson', { query_limit: 3 }],
    ['dir/with space/café #1.ndjson', { query_limit: 2 }],
    ['big.ndjson', {}],
  ] as const) {
    const { body } = await call<{ export_id: string }>(t.url, 'POST', '/vector/v2/products/p/search/export', { body: { key, query } });
    await waitFor(async () => {
      const status = await call<{ data: SnapshotEvent }>(t.url, 'GET', `/vector/v2/products/p/search/export/${body.export_id}/status`);
      return status.body.data.phase === 'success';
    });
  }
}, 60_000);

afterAll(async () => {
  await t.dispose();
});

/** A GET with node:http, whose path is sent exactly as given (fetch would resolve `..` and `.` segments). */
function rawGet(path: string): Promise<{ status: number; body: string; contentType: string | undefined }> {
  return new Promise((resolve, reject) => {
    const url = new URL(t.url);
    const req = request({ host: url.hostname, port: url.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body, contentType: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Open file descriptors of this process (the server runs in it) on the file at `path`. */
async function openDescriptors(path: string): Promise<number> {
  let count = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    try {
      if ((await readlink(`/proc/self/fd/${fd}`)) === path) count++;
    } catch {
      // Closed meanwhile.
    }
  }
  return count;
}

describe('the Storage data/get route of the HTTP server', () => {
  it('streams a stored file with its Content-Length', async () => {
    const response = await fetch(`${t.url}/storage/v1/data/get/small/out.ndjson`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    const text = await response.text();
    expect(Number(response.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    expect(text).toBe(await readFile(join(t.dataDir, 'storage', 'small', 'out.ndjson'), 'utf8'));
    expect(text.trimEnd().split('\n')).toHaveLength(3);
  });

  it('decodes each segment of the path, so keys with spaces, "#" and non-ASCII letters work', async () => {
    const key = 'dir/with space/café #1.ndjson';
    const response = await fetch(`${t.url}/storage/v1/data/get/${key.split('/').map(encodeURIComponent).join('/')}`);
    expect(response.status).toBe(200);
    expect((await response.text()).trimEnd().split('\n')).toHaveLength(2);
  });

  it.each([
    ['a ".." segment', '/storage/v1/data/get/../products/p/features.ndjson', 'a ".." segment'],
    ['a ".." segment inside', '/storage/v1/data/get/small/../../products/p/features.ndjson', 'a ".." segment'],
    ['a percent-encoded ".."', '/storage/v1/data/get/%2E%2E/products/p/features.ndjson', 'a ".." segment'],
    ['an encoded slash hiding ".."', '/storage/v1/data/get/small%2F..%2F..%2Fexport-task.sqlite', 'a ".." segment'],
    ['an absolute path', '/storage/v1/data/get//etc/passwd', 'absolute path'],
    ['an encoded absolute path', '/storage/v1/data/get/%2Fetc%2Fpasswd', 'absolute path'],
    ['a drive letter', '/storage/v1/data/get/C:%5Cwindows', 'backslash'],
    ['a backslash', '/storage/v1/data/get/small%5C..%5Cx', 'backslash'],
    ['a NUL', '/storage/v1/data/get/small/out.ndjson%00.png', 'NUL'],
    ['a "." segment', '/storage/v1/data/get/./small/out.ndjson', 'a "." segment'],
    ['an empty key', '/storage/v1/data/get/', 'non-empty'],
  ])('refuses a key with %s (400), reading and writing nothing', async (_what, path, detail) => {
    const before = await footprint(t.dataDir);
    const answer = await rawGet(path);
    expect(answer.status).toBe(400);
    expect(answer.contentType).toMatch(/^application\/json/);
    const body = JSON.parse(answer.body) as { errors: { status: string; detail: string }[] };
    expect(body.errors[0]!.status).toBe('400');
    expect(body.errors[0]!.detail).toContain(detail);
    expect(answer.body).not.toContain('root:');
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('answers 404 for a key with no file, and for a directory', async () => {
    for (const key of ['small/missing.ndjson', 'small', 'nothing/here/at/all']) {
      const answer = await call(t.url, 'GET', `/storage/v1/data/get/${key}`);
      expect(answer.status).toBe(404);
      expect(errorDetail(answer)).toContain('No file in storage at');
    }
  });

  it('stops reading and closes the file when the client goes away mid-download', async () => {
    const path = join(t.dataDir, 'storage', 'big.ndjson');
    const controller = new AbortController();
    const response = await fetch(`${t.url}/storage/v1/data/get/big.ndjson`, { signal: controller.signal });
    const size = Number(response.headers.get('content-length'));
    expect(size).toBeGreaterThan(2_000_000);
    const reader = response.body!.getReader();
    const first = await reader.read();
    expect(first.value!.length).toBeLessThan(size);
    controller.abort();
    await waitFor(async () => (await openDescriptors(path)) === 0, 5_000, 'the server to close the file');
    // The server goes on serving.
    const again = await fetch(`${t.url}/storage/v1/data/get/big.ndjson`);
    expect((await again.arrayBuffer()).byteLength).toBe(size);
    expect(await openDescriptors(path)).toBe(0);
  });
});
