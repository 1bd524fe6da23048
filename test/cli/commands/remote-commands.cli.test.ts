import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../run-cli.js';
import { ROADS, startService, type Service } from './service.js';

let service: Service;

beforeAll(async () => {
  service = await startService();
});

afterAll(async () => {
  await service?.dispose();
});

// The commands as a user runs them: a child process each (so each must exit by itself, with
// nothing left open), side by side as they mostly wait for Node to start.
describe.concurrent('export-task add, export, watch, ls and get from the command line', () => {
  it.each([
    ['watch', 'Usage: export-task watch [options] <product> [export...]', /^ {2}export\.\.\. +Export ids to follow/m],
    ['ls', 'Usage: export-task ls [options] <product>', /^ {2}--json +A JSON array instead of the table/m],
    ['get', 'Usage: export-task get [options] <product> <export> [dest]', /^ {2}--force +Replace DEST if it exists/m],
    ['add', 'Usage: export-task add [options] <product> <file>', /^ {2}--create +Create the product if the service has none of that id$/m],
    ['export', 'Usage: export-task export [options] <product> <key>', /^ {2}--query <json\|@file> +What to export, as JSON or @file holding it/m],
  ])('prints the help of %s, its arguments and the token variable', async (command, usage, line) => {
    const { code, stdout, stderr } = await runCli([command, '--help']);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout.startsWith(`${usage}\n`)).toBe(true);
    expect(stdout).toMatch(/^Arguments:\n {2}product +The product \(feature collection\) id$/m);
    expect(stdout).toMatch(/--token <token> +Bearer token \(default EXPORT_TASK_TOKEN/);
    expect(stdout).toMatch(line);
  });

  it.each([
    [['watch'], 'export-task watch: missing <product> (The product (feature collection) id): expected <product> [export...]'],
    [['get', 'roads'], 'export-task get: missing <export> (The export id): expected <product> <export> [dest]'],
    [['ls', 'roads', 'extra'], 'export-task ls: unexpected argument "extra": expected <product>'],
    [['ls', '--url', 'ftp://127.0.0.1', 'roads'], 'export-task ls: expected --url to be an http(s) URL such as http://127.0.0.1:8080, got "ftp://127.0.0.1"'],
    [['watch', '--bogus', 'roads'], 'export-task watch: unknown option "--bogus": expected --url <url>, --token <token>, --json, --plain, --help'],
    [['get', '--token', '', 'roads', 'e'], 'export-task get: expected --token to be non-empty, got ""'],
    [['add', 'roads'], 'export-task add: missing <file> (A .geojson FeatureCollection or an .ndjson file of Features, or - for standard input): expected <product> <file>'],
    [['add', '--title', 'Roads', 'roads', 'roads.geojson'], 'export-task add: --title names a product that --create makes: add --create, or leave --title out'],
    [['add', '--format', 'xml', 'roads', 'roads.xml'], 'export-task add: expected --format to be geojson or ndjson, got "xml"'],
    [['add', '--batch', '-5', 'roads', '-'], 'export-task add: expected --batch to be positive (a whole number from 1 to 100000), got -5'],
    [['export', 'roads'], 'export-task export: missing <key> (The storage key to write the file to, such as exports/roads.ndjson): expected <product> <key>'],
    [['export', '--query', '', 'roads', 'k'], 'export-task export: expected --query to be JSON such as \'{"query_expr":{"eq":{"kind":"highway"}}}\' or @file, got ""'],
  ])('exits 2 for %j, in one line saying what was expected and where the usage is', async (args, message) => {
    const { code, stdout, stderr } = await runCli(args);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toBe(`${message} (see "export-task ${args[0]} --help")\n`);
  });

  it('adds newline-delimited features from standard input with add -, then exports them', async () => {
    const input = `${ROADS.slice(0, 7).map((feature) => JSON.stringify(feature)).join('\n')}\n`;
    const added = await runCli(['add', '--create', 'piped', '-'], { EXPORT_TASK_URL: service.url }, undefined, undefined, input);
    expect(added).toEqual({ code: 0, stdout: 'Added 7 features to piped (created it).\nExport them with "export-task export piped exports/piped.ndjson".\n', stderr: '' });
    const exported = await runCli(['export', '--watch', 'piped', 'exports/piped.ndjson'], { EXPORT_TASK_URL: service.url });
    expect(exported).toMatchObject({ code: 0, stderr: '' });
    expect(exported.stdout).toMatch(/^exports\/piped\.ndjson {2}success +100%/m);
    const [task] = await service.client.featureCollection('piped').listExports();
    expect(task?.snapshot.attributes?.sizeBytes).toBeGreaterThan(0);
  });

  it('exits 0 when the watched export succeeded and 1 when it failed', async () => {
    const [ok, failed] = await Promise.all([
      runCli(['watch', 'roads', service.succeeded.exportId], { EXPORT_TASK_URL: service.url }),
      runCli(['watch', '--url', service.url, 'roads', service.failed.exportId]),
    ]);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
    expect(ok.stdout).toContain('1 succeeded, 0 failed');
    expect(failed).toMatchObject({ code: 1, stderr: '' });
    expect(failed.stdout).toContain('0 succeeded, 1 failed');
  });
});
