/**
 * Scoped access tokens on the real service (Fastify, SQLite, real HTTP on 127.0.0.1): what a
 * `read` and a `write` token of one product may do, what an export-limited token sees (its
 * exports' events only, its exports' files only), and that expired, tampered or foreign tokens
 * get 401 while the master token keeps every right.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessToken } from '../../../src/server/index.js';
import { allFinal, call, errorDetail, footprint, gridFeatures, openEvents, startTestServer, waitFor } from './helpers.js';
import type { TestServer } from './helpers.js';

const MASTER = 'the-master-token_0123456789';
const SIGNING_KEY = 'a-signing-key-of-at-least-32-characters-0123456789';
const EXPORTS = '/vector/v2/products/p/search/export';

let t: TestServer;
let e1: string;
let e2: string;
let other: string;

async function exportOf(product: string, key: string): Promise<string> {
  const { body } = await call<{ export_id: string }>(t.url, 'POST', `/vector/v2/products/${product}/search/export`, { body: { key, query: {} }, token: MASTER });
  await waitFor(async () => (await call(t.url, 'GET', `/vector/v2/products/${product}/search/export/${body.export_id}`, { token: MASTER })).status === 200);
  return body.export_id;
}

beforeAll(async () => {
  t = await startTestServer({ token: MASTER, signingKey: SIGNING_KEY });
  for (const product of ['p', 'q']) {
    await call(t.url, 'POST', '/vector/v2/products', { body: { id: product }, token: MASTER });
    await call(t.url, 'POST', `/vector/v2/products/${product}/features`, { body: gridFeatures(5), token: MASTER });
  }
  e1 = await exportOf('p', 'p/one.ndjson');
  e2 = await exportOf('p', 'p/two.ndjson');
  other = await exportOf('q', 'q/other.ndjson');
});

afterAll(async () => {
  await t.dispose();
});

const read = (exports?: string[]): Promise<string> => createAccessToken(SIGNING_KEY, { product: 'p', scope: 'read', expiresIn: '15m', ...(exports ? { exports } : {}) });
const write = (exports?: string[]): Promise<string> => createAccessToken(SIGNING_KEY, { product: 'p', scope: 'write', expiresIn: '15m', ...(exports ? { exports } : {}) });

describe('a read token of one product', () => {
  it('reads its product: status, list, batch status, events, download', async () => {
    const token = await read();
    expect((await call(t.url, 'GET', '/vector/v2/products/p', { token })).status).toBe(200);
    expect((await call(t.url, 'GET', `${EXPORTS}/${e1}/status`, { token })).status).toBe(200);
    expect((await call(t.url, 'GET', `${EXPORTS}/${e1}`, { token })).status).toBe(200);
    const list = await call<{ data: { id: string }[] }>(t.url, 'GET', EXPORTS, { token });
    expect(list.body.data.map((d) => d.id).sort()).toEqual([e1, e2].sort());
    expect((await call(t.url, 'POST', `${EXPORTS}/status`, { body: { export_ids: [e1, e2] }, token })).status).toBe(200);
    const download = await call(t.url, 'GET', '/storage/v1/data/get/p/one.ndjson', { token });
    expect(download.status).toBe(200);
    const { response, reader, close } = await openEvents(t.url, 'p', { token });
    expect(response.status).toBe(200);
    await reader!.until((r) => allFinal(r, [e1, e2]));
    await close();
  });

  it('gets 403, changing nothing, for what needs write: add features, export, cancel, create a product', async () => {
    const token = await read();
    const before = await footprint(t.dataDir);
    for (const [method, path, body] of [
      ['POST', '/vector/v2/products/p/features', gridFeatures(2)],
      ['POST', EXPORTS, { key: 'p/intruder.ndjson', query: {} }],
      ['POST', `${EXPORTS}/${e1}/cancel`, undefined],
      ['POST', '/vector/v2/products', { id: 'p' }],
    ] as const) {
      const answer = await call(t.url, method, path, body === undefined ? { token } : { body, token });
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(errorDetail(answer)).toMatch(/read-only.*needs a write token/);
      expect(answer.text).not.toContain(token);
    }
    expect(await footprint(t.dataDir)).toEqual(before);
  });

  it('gets 403 for another product, its events and its files', async () => {
    const token = await read();
    for (const path of ['/vector/v2/products/q', `/vector/v2/products/q/search/export/${other}/status`, '/vector/v2/products/q/search/export']) {
      const answer = await call(t.url, 'GET', path, { token });
      expect(answer.status, path).toBe(403);
      expect(errorDetail(answer)).toContain('does not open product "q"');
    }
    expect((await openEvents(t.url, 'q', { token })).response.status).toBe(403);
    const file = await call(t.url, 'GET', '/storage/v1/data/get/q/other.ndjson', { token });
    expect(file.status).toBe(403);
    expect(errorDetail(file)).toContain('opens only the files of its product');
    // A key that is no export's file at all: refused the same way, telling nothing of the disk.
    expect((await call(t.url, 'GET', '/storage/v1/data/get/p/nothing-here.ndjson', { token })).status).toBe(403);
  });
});

describe('a write token of one product', () => {
  it('adds features, starts and cancels exports of its product', async () => {
    const token = await write();
    expect((await call(t.url, 'POST', '/vector/v2/products/p/features', { body: gridFeatures(2), token })).status).toBe(200);
    const started = await call<{ export_id: string }>(t.url, 'POST', EXPORTS, { body: { key: 'p/three.ndjson', query: {} }, token });
    expect(started.status).toBe(200);
    expect((await call(t.url, 'POST', `${EXPORTS}/${started.body.export_id}/cancel`, { token })).status).toBe(202);
  });

  it('gets 403 for another product, creating one, and the service-only routes', async () => {
    const token = await write();
    const before = await footprint(t.dataDir);
    expect((await call(t.url, 'POST', '/vector/v2/products/q/search/export', { body: { key: 'q/x.ndjson', query: {} }, token })).status).toBe(403);
    const create = await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'mine' }, token });
    expect(create.status).toBe(403);
    expect(errorDetail(create)).toContain('cannot create product "mine"');
    expect(await footprint(t.dataDir)).toEqual(before);
  });
});

describe('a token limited to some exports', () => {
  it('reads those exports only: status, list, batch status, files', async () => {
    const token = await read([e1]);
    expect((await call(t.url, 'GET', `${EXPORTS}/${e1}/status`, { token })).status).toBe(200);
    expect((await call(t.url, 'GET', `${EXPORTS}/${e2}/status`, { token })).status).toBe(403);
    const list = await call<{ data: { id: string }[] }>(t.url, 'GET', EXPORTS, { token });
    expect(list.body.data.map((d) => d.id)).toEqual([e1]);
    expect((await call(t.url, 'POST', `${EXPORTS}/status`, { body: { export_ids: [e1, e2] }, token })).status).toBe(403);
    expect((await call(t.url, 'GET', '/storage/v1/data/get/p/one.ndjson', { token })).status).toBe(200);
    expect((await call(t.url, 'GET', '/storage/v1/data/get/p/two.ndjson', { token })).status).toBe(403);
  });

  it('streams only the events of its exports, and refuses ?export_id= of another', async () => {
    const token = await read([e2]);
    const { reader, close } = await openEvents(t.url, 'p', { token });
    await reader!.until((r) => allFinal(r, [e2]));
    // Everything of the product so far is read past; a new export of another id shows nothing.
    const master = await openEvents(t.url, 'p', { token: MASTER });
    const started = await call<{ export_id: string }>(t.url, 'POST', EXPORTS, { body: { key: 'p/four.ndjson', query: {} }, token: MASTER });
    await master.reader!.until((r) => allFinal(r, [started.body.export_id]));
    await master.close();
    const ids = new Set(reader!.events().map((e) => e.event.export_id));
    await close();
    expect([...ids]).toEqual([e2]);
    expect((await openEvents(t.url, 'p', { token, query: `?export_id=${e1}` })).response.status).toBe(403);
  });

  it('cannot start exports (a write token for some exports acts on those only)', async () => {
    const token = await write([e1]);
    const answer = await call(t.url, 'POST', EXPORTS, { body: { key: 'p/five.ndjson', query: {} }, token });
    expect(answer.status).toBe(403);
    expect(errorDetail(answer)).toContain('limited to some exports');
    expect((await call(t.url, 'POST', `${EXPORTS}/${e2}/cancel`, { token })).status).toBe(403);
    expect((await call(t.url, 'POST', `${EXPORTS}/${e1}/cancel`, { token })).status).toBe(202);
  });
});

describe('tokens the service refuses', () => {
  const key = new TextEncoder().encode(SIGNING_KEY);
  const claims = { product: 'p', scope: 'write' };

  it('answers 401 to an expired token, saying so', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer('export-task').setAudience('export-task').setIssuedAt(now - 120).setExpirationTime(now - 60).sign(key);
    const answer = await call(t.url, 'GET', '/vector/v2/products/p', { token: expired });
    expect(answer.status).toBe(401);
    expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="export-task"');
    expect(errorDetail(answer)).toContain('has expired');
  });

  it('answers 401 to a tampered token, one signed with another key, and one without expiry', async () => {
    const token = await read();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const widened = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload, 'base64url').toString()), scope: 'write' })).toString('base64url');
    const foreign = await createAccessToken('another-signing-key-of-32-characters-at-least', { product: 'p', scope: 'write', expiresIn: 60 });
    const forever = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuer('export-task').setAudience('export-task').sign(key);
    // One character of the signature changed, in the middle: each carries 6 bits of it (the last
    // one carries only 4, so changing it can decode to the same signature).
    const flipped = `${signature.slice(0, 10)}${signature[10] === 'A' ? 'B' : 'A'}${signature.slice(11)}`;
    for (const bad of [`${header}.${widened}.${signature}`, `${header}.${payload}.${flipped}`, foreign, forever]) {
      const answer = await call(t.url, 'POST', EXPORTS, { body: { key: 'p/six.ndjson', query: {} }, token: bad });
      expect(answer.status).toBe(401);
      expect(errorDetail(answer)).toContain('not valid here');
    }
  });

  it('keeps every right for the master token', async () => {
    expect((await call(t.url, 'GET', '/vector/v2/products/q', { token: MASTER })).status).toBe(200);
    expect((await call(t.url, 'GET', '/storage/v1/data/get/q/other.ndjson', { token: MASTER })).status).toBe(200);
    expect((await call(t.url, 'POST', '/vector/v2/products', { body: { id: 'r' }, token: MASTER })).status).toBe(201);
  });
});

describe('createAccessToken()', () => {
  it('refuses a short key and bad options, saying what was expected', async () => {
    await expect(createAccessToken('short', { product: 'p', scope: 'read', expiresIn: 60 })).rejects.toThrow(/at least 32 characters.*got 5 characters/);
    await expect(createAccessToken(SIGNING_KEY, { product: 'p', scope: 'admin' as never, expiresIn: 60 })).rejects.toThrow(/`scope` to be 'read' or 'write'/);
    await expect(createAccessToken(SIGNING_KEY, { product: 'p', scope: 'read', expiresIn: '15 fortnights' })).rejects.toThrow(/duration such as "15m"/);
    await expect(createAccessToken(SIGNING_KEY, { product: 'p', scope: 'read', exports: [], expiresIn: 60 })).rejects.toThrow(/non-empty array of export ids/);
  });
});
