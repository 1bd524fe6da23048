/**
 * Writes docs/openapi.json: the OpenAPI document that a service started with the default
 * options serves at `GET /openapi.json` (test/server/http/openapi.test.ts checks that they are
 * the same). Run it after changing a route's schema: `npm run docs:openapi`.
 */
import { writeFile } from 'node:fs/promises';
import { startServer } from '../src/server/index.js';

await using server = await startServer();
const response = await fetch(`${server.url}/openapi.json`);
if (!response.ok) throw new Error(`GET /openapi.json answered ${response.status}: ${await response.text()}`);
const target = new URL('../docs/openapi.json', import.meta.url);
await writeFile(target, `${JSON.stringify(await response.json(), null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
