import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../run-cli.js';
import { startService, type Service } from './service.js';

let service: Service;

beforeAll(async () => {
  service = await startService();
});

afterAll(async () => {
  await service?.dispose();
});

// The commands as a user runs them: a child process each (so each must exit by itself, with
// nothing left open), side by side as they mostly wait for Node to start.
describe.concurrent('export-task watch, ls and get from the command line', () => {
  it.each([
    ['watch', 'Usage: export-task watch [options] <product> [export...]', /^ {2}export\.\.\. +Export ids to follow/m],
    ['ls', 'Usage: export-task ls [options] <product>', /^ {2}--json +A JSON array instead of the table/m],
    ['get', 'Usage: export-task get [options] <product> <export> [dest]', /^ {2}--force +Replace DEST if it exists/m],
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
  ])('exits 2 for %j, saying what was expected, with the usage', async (args, message) => {
    const { code, stdout, stderr } = await runCli(args);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr.startsWith(`${message}\n\nUsage: export-task ${args[0]} [options]`)).toBe(true);
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
