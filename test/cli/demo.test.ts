import { describe, expect, it } from 'vitest';
import { runCli, type CliRun } from './run-cli.js';

const SUCCESSES = ['everything', 'wide-residential', 'highways', 'fast-roads', 'hills', 'downtown-sf'];
const FAILURES = [
  ['cancelled', 'cancelled', '-'],
  ['too-slow', 'timeout', '-'],
  ['bad-range', 'exception', 'QueryTypeError'],
] as const;

/** The cells of the outcome table's row for `label` (the table whose header starts with "export  status"). */
function row(output: string, label: string): string[] {
  const lines = output.split('\n');
  const header = lines.findIndex((line) => /^export\s+status\s+failure/.test(line));
  expect(header).toBeGreaterThan(-1);
  const line = lines.slice(header + 2).find((l) => l.startsWith(`${label} `));
  expect(line, `a table row for ${label}`).toBeDefined();
  return line!.split(/ {2,}/);
}

describe('export-task demo', () => {
  let run: Promise<CliRun> | undefined;
  // One run serves every assertion: it is the expensive part.
  const demo = (): Promise<CliRun> => (run ??= runCli(['demo', '--features', '20000']));

  it('exits 0 by itself, printing plain lines (no escapes) on a pipe', { timeout: 240_000 }, async () => {
    const { code, stdout, stderr } = await demo();
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).not.toContain('\u001b');
    expect(stdout).toMatch(/^export-task demo: 20,000 generated road features, 9 exports on the embedded service$/m);
    // Plain progress: a line per phase change, e.g. each task's final one.
    expect(stdout).toMatch(/^highways\s+success\s+100%/m);
    expect(stdout).toMatch(/^too-slow\s+failure\s+\d+%\s+timeout$/m);
  });

  it('lists every task in the table with the status and failure it was meant to have', { timeout: 240_000 }, async () => {
    const { stdout } = await demo();
    for (const label of SUCCESSES) {
      const [, status, failure, exception, cpu, memory, features, size, asExpected] = row(stdout, label);
      expect({ label, status, failure, exception, asExpected }).toEqual({ label, status: 'SUCCESS', failure: '-', exception: '-', asExpected: 'yes' });
      expect(cpu).toMatch(/^\d+\.\d\d$/);
      expect(memory).toMatch(/^\d+\.\d$/);
      expect(features).toMatch(/^[\d,]+$/);
      expect(size).toMatch(/^[\d.]+ (B|KiB|MiB)$/);
    }
    for (const [label, failureType, exceptionName] of FAILURES) {
      const [, status, failure, exception, , , features, size, asExpected] = row(stdout, label);
      expect({ label, status, failure, exception, features, size, asExpected }).toEqual({
        label,
        status: 'FAILURE',
        failure: failureType,
        exception: exceptionName,
        features: '-',
        size: '-',
        asExpected: 'yes',
      });
    }
  });

  it('verifies the file of each success', { timeout: 240_000 }, async () => {
    const { stdout } = await demo();
    expect(stdout).toMatch(/^verified everything: 20,000 features, each generated feature exactly once$/m);
    expect(stdout).toMatch(/^verified highways: [\d,]+ features, all match kind = "highway", as many as generated \([\d,]+\)$/m);
    expect(stdout).toMatch(/^verified downtown-sf: [\d,]+ features, all within the box, at most 1,000$/m);
    for (const label of SUCCESSES) expect(stdout).toMatch(new RegExp(`^verified ${label}: `, 'm'));
    expect(stdout).not.toMatch(/^FAILED/m);
    expect(stdout).toMatch(/^ok: all 9 exports ended as expected \(6 succeeded and their files verified, 3 failed as intended\) in [\d.]+ s/m);
  });
});
