import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addCommand } from '../../../src/cli/commands/add.js';
import { call, gridFeatures } from '../../server/http/helpers.js';
import { captureOutput } from '../captured-output.js';
import { runCommand, startService, type Service } from './service.js';

let service: Service;
let dir: string;

beforeAll(async () => {
  [service, dir] = await Promise.all([startService(), mkdtemp(join(tmpdir(), 'export-task-add-'))]);
});

afterAll(async () => {
  await service?.dispose();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** How many features the service holds for the product, or `null` when it has no such product. */
async function featureCount(productId: string): Promise<number | null> {
  const answer = await call<{ data: { attributes: { feature_count: number } } }>(service.url, 'GET', `/vector/v2/products/${productId}`);
  return answer.status === 404 ? null : answer.body.data.attributes.feature_count;
}

/** A FeatureCollection written as people write them: pretty-printed over many lines. */
async function geojsonFile(name: string, count: number): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify({ type: 'FeatureCollection', features: gridFeatures(count) }, null, 2));
  return path;
}

async function ndjsonFile(name: string, lines: readonly unknown[]): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `${lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n')}\n`);
  return path;
}

describe('export-task add', () => {
  it('creates the product with --create and adds every feature of a pretty-printed FeatureCollection, in batches of --batch', async () => {
    const file = await geojsonFile('grid.geojson', 2_500);
    const run = await runCommand(addCommand, { url: service.url, create: true, title: 'Grid', batch: '1000' }, ['grid', file]);
    expect(run).toEqual({
      code: 0,
      stdout: 'Added 2500 features to grid (created it).\nExport them with "export-task export grid exports/grid.ndjson".\n',
      stderr: '',
    });
    expect(await featureCount('grid')).toBe(2_500);
  });

  it('adds newline-delimited GeoJSON to an existing product, blank lines skipped, and prints JSON with --json', async () => {
    await service.client.createFeatureCollection('lines');
    const file = await ndjsonFile('lines.ndjson', [...gridFeatures(3), '', ...gridFeatures(2)]);
    const run = await runCommand(addCommand, { url: service.url, json: true }, ['lines', file]);
    expect(run).toEqual({ code: 0, stdout: `${JSON.stringify({ productId: 'lines', added: 5, created: false })}\n`, stderr: '' });
    expect(await featureCount('lines')).toBe(5);
  });

  it('tells newline-delimited GeoJSON from a FeatureCollection by its first line when the extension does not say', async () => {
    const file = await ndjsonFile('features.txt', gridFeatures(4));
    const run = await runCommand(addCommand, { url: service.url, create: true }, ['sniffed', file]);
    expect(run.code).toBe(0);
    expect(await featureCount('sniffed')).toBe(4);
  });

  it('without --create, says how to create a missing product, and creates nothing', async () => {
    const file = await ndjsonFile('orphan.ndjson', gridFeatures(2));
    const run = await runCommand(addCommand, { url: service.url }, ['orphan', file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`export-task add: the service has no product "orphan": pass --create to create it ("export-task add --create orphan ${file}"), or check the id\n`);
    expect(await featureCount('orphan')).toBeNull();
  });

  it('adds nothing, and creates no product, when a feature near the end is wrong, naming its line', async () => {
    const file = await ndjsonFile('bad.ndjson', [...gridFeatures(20_000), { type: 'Feature', geometry: { type: 'Point', coordinates: ['x', 1] }, properties: {} }]);
    const run = await runCommand(addCommand, { url: service.url, create: true, batch: '1000' }, ['bad', file]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`^export-task add: ${file.replace(/[.\\]/g, '\\$&')}: Expected \`line 20001\\.geometry\\.coordinates.*; nothing was added\\n$`));
    expect(await featureCount('bad')).toBeNull();

    await service.client.createFeatureCollection('kept');
    const run2 = await runCommand(addCommand, { url: service.url, batch: '1000' }, ['kept', file]);
    expect(run2.code).toBe(1);
    expect(await featureCount('kept')).toBe(0);
  });

  it.each([
    ['not JSON', 'broken.geojson', '{"type": "FeatureCollection", "features": [{"type": "Feature",}]}', /is not valid JSON \(.*\): expected a GeoJSON FeatureCollection/],
    ['a Feature alone', 'one.geojson', JSON.stringify(gridFeatures(1)[0]), /expected a GeoJSON FeatureCollection .*, got "type": "Feature"/],
    ['a line that is not JSON', 'broken.ndjson', `${JSON.stringify(gridFeatures(1)[0])}\n{oops}\n`, /line 2 is not JSON \(.*\): expected one GeoJSON Feature per line/],
    ['nothing', 'empty.ndjson', '\n\n', /holds no feature: nothing to add/],
  ])('refuses %s, saying what was expected, and adds nothing', async (_what, name, text, message) => {
    await service.client.createFeatureCollection(`refused-${name}`);
    const path = join(dir, name);
    await writeFile(path, text);
    const run = await runCommand(addCommand, { url: service.url }, [`refused-${name}`, path]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(message);
    expect(await featureCount(`refused-${name}`)).toBe(0);
  });

  it('reads standard input with -, and when interrupted while it still comes, exits 130, adds nothing and leaves no temporary file', async () => {
    const spools = async (): Promise<string[]> => (await readdir(tmpdir())).filter((name) => name.startsWith('export-task-add-'));
    const before = await spools();
    const stdin = new PassThrough();
    const controller = new AbortController();
    const { stdout, stderr, err } = captureOutput();
    const options = addCommand.parse({ url: service.url, create: true }, ['from-stdin', '-']);
    const running = addCommand.run(options, { stdout, stderr, stdin, env: {}, signal: controller.signal });
    // Half a feature, and then the writer goes quiet: the command waits for the rest until Ctrl-C.
    stdin.write('{"type": "Feature", "geometry": null, ');
    await new Promise((resolve) => setTimeout(resolve, 100));
    controller.abort(new Error('Interrupted'));
    expect(await running).toBe(130);
    stderr.end();
    await new Promise((resolve) => setImmediate(resolve));
    expect(err()).toBe('export-task add: interrupted, nothing was added\n');
    expect(await featureCount('from-stdin')).toBeNull();
    expect(await spools()).toEqual(before);
  });

  it('says so for a file that is not there', async () => {
    const run = await runCommand(addCommand, { url: service.url }, ['roads', join(dir, 'missing.geojson')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(`export-task add: no file ${join(dir, 'missing.geojson')}: give a GeoJSON or NDJSON file, or - for standard input\n`);
  });

  it('shows progress while it checks and adds a large file: plain lines on a pipe', async () => {
    // Over 1 MiB: the size from which a bar is shown.
    const file = await geojsonFile('large.geojson', 8_000);
    const run = await runCommand(addCommand, { url: service.url, create: true, batch: '2000' }, ['large', file]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines.filter((line) => /^large\.geojson {2}pending +\d+% {2}checked \d+$/.test(line)).length).toBeGreaterThan(1);
    expect(lines.filter((line) => /^large\.geojson {2}running +\d+% {2}added \d+ of 8000$/.test(line)).length).toBeGreaterThan(1);
    expect(lines).toContain('large.geojson  success  100%  added 8000');
    expect(lines.at(-2)).toBe('Added 8000 features to large (created it).');
    expect(await featureCount('large')).toBe(8_000);
  });

  it('draws a live bar on a terminal', async () => {
    const file = await geojsonFile('live.geojson', 8_000);
    const run = await runCommand(addCommand, { url: service.url, create: true }, ['live', file], { terminalColumns: 100 });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`\\r\\u001b\\[2K${'live'}\\.geojson {2}\\[\\u001b\\[32m█+\\u001b\\[0m\\] +100% {2}\\u001b\\[32msuccess\\u001b\\[0m {2}added 8000`));
  });
});
