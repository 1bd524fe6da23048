/**
 * The client's `token` as a function, against the real service with a signing key: asked once
 * while its JWT is fresh, asked again before the JWT expires, asked once more (with
 * `refresh: true`) after a 401, and a 403 outside the token's rights ends the request and the
 * wait with `ForbiddenError`.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpBackend } from '../../src/client/http/http-backend.js';
import { createClient, ForbiddenError, TimeoutError, UnauthorizedError, type AccessTokenRequest } from '../../src/index.node.js';
import { createAccessToken, startServer, type ExportServer } from '../../src/server/index.js';
import { gridFeatures } from '../server/http/helpers.js';

const MASTER = 'the-master-token_0123456789';
const KEY = 'a-signing-key-of-at-least-32-characters-0123456789';

let server: ExportServer;

beforeAll(async () => {
  server = await startServer({ token: MASTER, signingKey: KEY });
  const admin = createClient({ url: server.url, token: MASTER });
  const roads = await admin.createFeatureCollection('roads');
  await roads.add(gridFeatures(4));
  await admin.createFeatureCollection('rivers');
  await admin.close();
});

afterAll(async () => {
  await server.close();
});

/** A token that expired a minute ago, signed with the service's key. */
async function expiredToken(): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ product: 'roads', scope: 'write' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('export-task')
    .setAudience('export-task')
    .setIssuedAt(now - 120)
    .setExpirationTime(now - 60)
    .sign(new TextEncoder().encode(KEY));
}

describe('createClient({ token: function })', () => {
  it('asks once while the token is fresh, and follows an export to success with it', async () => {
    const asked: AccessTokenRequest[] = [];
    const client = createClient({
      url: server.url,
      token: (request) => {
        asked.push(request);
        return createAccessToken(KEY, { product: 'roads', scope: 'write', expiresIn: '15m' });
      },
    });
    const roads = client.featureCollection('roads');
    const task = await roads.export('exports/roads.ndjson');
    await task.getResult({ wait: true, timeout: 20_000 });
    expect(await task.status).toBe('SUCCESS');
    await roads.listExports();
    await client.close();
    expect(asked).toEqual([{ refresh: false }]);
  });

  it('asks again before the token expires, without a 401 first', async () => {
    const asked: AccessTokenRequest[] = [];
    // Lives 20 s of a 120 s lifetime: within the 30 s margin, so each request renews it.
    const now = Math.floor(Date.now() / 1000);
    const client = createClient({
      url: server.url,
      token: (request) => {
        asked.push(request);
        return new SignJWT({ product: 'roads', scope: 'read' })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer('export-task')
          .setAudience('export-task')
          .setIssuedAt(now - 100)
          .setExpirationTime(now + 20)
          .sign(new TextEncoder().encode(KEY));
      },
    });
    await client.featureCollection('roads').listExports();
    await client.featureCollection('roads').listExports();
    await client.close();
    expect(asked).toEqual([{ refresh: false }, { refresh: false }]);
  });

  it('asks once more with refresh: true after a 401, and retries the request with the new token', async () => {
    const asked: AccessTokenRequest[] = [];
    const client = createClient({
      url: server.url,
      token: async (request) => {
        asked.push(request);
        return request.refresh ? createAccessToken(KEY, { product: 'roads', scope: 'read', expiresIn: 600 }) : expiredToken();
      },
    });
    expect(await client.featureCollection('roads').listExports()).toEqual(expect.any(Array));
    await client.close();
    expect(asked).toEqual([{ refresh: false }, { refresh: true }]);
  });

  it('renews only once per request: a token refused twice fails with UnauthorizedError', async () => {
    let calls = 0;
    const client = createClient({
      url: server.url,
      token: () => {
        calls++;
        return expiredToken();
      },
    });
    const error = await client.featureCollection('roads').listExports().catch((e: unknown) => e);
    await client.close();
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect((error as Error).message).toContain('has expired');
    expect(calls).toBe(2);
  });

  it('fails with ForbiddenError outside the token rights, and so does reading another product', async () => {
    const client = createClient({ url: server.url, token: () => createAccessToken(KEY, { product: 'roads', scope: 'read', expiresIn: '5m' }) });
    const start = await client.featureCollection('roads').export('exports/nope.ndjson').catch((e: unknown) => e);
    expect(start).toBeInstanceOf(ForbiddenError);
    expect((start as Error).message).toContain('needs a write token');
    const elsewhere = await client.featureCollection('rivers').getExport('some-export').catch((e: unknown) => e);
    await client.close();
    expect(elsewhere).toBeInstanceOf(ForbiddenError);
    expect((elsewhere as Error).message).toContain('does not open product "rivers"');
  });

  it('ends a request whose token function answers nothing with TimeoutError, and asks it again for the next request', async () => {
    let calls = 0;
    const client = createClient({
      url: server.url,
      tokenTimeout: 200,
      token: () => {
        calls++;
        // Silent the first time (an app server that hangs), then answers.
        return calls === 1 ? new Promise<string>(() => undefined) : createAccessToken(KEY, { product: 'roads', scope: 'read', expiresIn: 60 });
      },
    });
    const roads = client.featureCollection('roads');
    const error = await roads.listExports().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toBe('createClient(): the `token` function answered nothing within 200 ms');
    expect(await roads.listExports()).toEqual(expect.any(Array));
    expect(calls).toBe(2);
    await client.close();
  });

  it('stops waiting for the token function when the request is aborted (a closed event stream)', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timers();
    const backend = createHttpBackend({ vectorUrl: `${server.url}/vector/v2`, storageUrl: `${server.url}/storage/v1`, token: () => new Promise<string>(() => undefined) });
    const subscription = backend.events('roads').subscribe({ error: () => undefined });
    await new Promise((resolve) => setTimeout(resolve, 50));
    // The stream waits for its token, within the default 30 s bound: one timer.
    expect(timers()).toBe(before + 1);
    subscription.unsubscribe();
    await backend.close();
    await new Promise((resolve) => setImmediate(resolve));
    expect(timers(), 'the bound is cleared when the stream is closed').toBe(before);
  });

  it('refuses a token that is neither a string nor a function, before any request', () => {
    expect(() => createClient({ url: server.url, token: 42 as never })).toThrow('createClient(): expected `token` to be a non-empty string, or a function answering one');
  });
});
