/**
 * `npm run dashboard`: the reference service with a seeded product, and the dashboard page,
 * both on 127.0.0.1. Ctrl-C stops both (and removes the service's temporary data).
 *
 * Options: `--port <n>` (the page's port, default 5173), `--features <n>` (default 100000).
 */
import { parseArgs } from 'node:util';
import { startDashboard } from './start-dashboard.js';

function count(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    console.error(`npm run dashboard: expected ${flag} to be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
    process.exit(2);
  }
  return n;
}

let values: { port?: string | undefined; features?: string | undefined };
try {
  ({ values } = parseArgs({ options: { port: { type: 'string' }, features: { type: 'string' } } }));
} catch (error) {
  console.error(`npm run dashboard: ${(error as Error).message}. Usage: npm run dashboard -- [--port 5173] [--features 100000]`);
  process.exit(2);
}
const port = count('--port', values.port, 5173, 0, 65_535);
const features = count('--features', values.features, 100_000, 1, 2_000_000);

console.log(`Starting the export service and seeding ${features.toLocaleString('en')} roads...`);
let dashboard: Awaited<ReturnType<typeof startDashboard>>;
try {
  dashboard = await startDashboard({ port, features });
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  const hint = /in use/i.test(message) ? ` Pass another port with \`npm run dashboard -- --port <n>\` (0 picks a free one).` : '';
  console.error(`npm run dashboard: could not start: ${message}.${hint}`);
  process.exit(1);
}
console.log(`Export service: ${dashboard.serviceUrl}`);
console.log(`Dashboard:      ${dashboard.url}   (Ctrl-C to stop)`);

let stopping = false;
const stop = (signal: NodeJS.Signals): void => {
  if (stopping) {
    console.error(`\nStopping already; ${signal} again exits at once.`);
    process.exit(130);
  }
  stopping = true;
  console.log('\nStopping the dashboard and the export service...');
  dashboard.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
