import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

// Each case is a child process that mostly waits for Node to start: run them side by side.
describe.concurrent('export-task (command line)', () => {
  it.each([['--help'], ['-h'], ['help']])('prints the usage with %s and exits 0', async (flag) => {
    const { code, stdout, stderr } = await runCli([flag]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^Usage: export-task <command> \[options\]/);
    expect(stdout).toMatch(/^ {2}demo {2}/m);
    expect(stdout).toMatch(/^ {2}help {2}/m);
  });

  it.each([[['demo', '--help']], [['help', 'demo']], [['demo', '--features', '10', '-h']]])('prints the demo help for %j', async (args) => {
    const { code, stdout } = await runCli(args);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: export-task demo \[options\]/);
    expect(stdout).toMatch(/--features <n> +How many features to generate/);
    expect(stdout).toMatch(/--plain/);
  });

  it('exits 2 naming the unknown command and the expected ones, usage on stderr', async () => {
    const { code, stdout, stderr } = await runCli(['frobnicate']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^export-task: unknown command "frobnicate": expected one of add, export, watch, ls, get, serve, (\w+, )*demo, help \(see "export-task --help"\)\n$/);
  });

  it('exits 2 without a command', async () => {
    const { code, stderr } = await runCli([]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^export-task: expected a command: add, export, watch, ls, get, serve, (\w+, )*demo, help \(see "export-task --help"\)\n$/);
  });

  it('exits 2 naming an unknown flag and the flags the command takes', async () => {
    const { code, stdout, stderr } = await runCli(['demo', '--bogus']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    // One line, with where the whole usage is: not a screen of help burying the error.
    expect(stderr).toBe('export-task demo: unknown option "--bogus": expected --features <n>, --seed <n>, --plain, --help (see "export-task demo --help")\n');
  });

  it('exits 2 on an unknown flag before the command', async () => {
    const { code, stderr } = await runCli(['--verbose']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^export-task: unknown option "--verbose": expected a command first/);
  });

  it.each([
    [['demo', '--features', 'many'], /expected --features to be a whole number from 10000 to 5000000, got "many"/],
    [['demo', '--features', '500'], /expected --features to be a whole number from 10000 to 5000000, got "500"/],
    [['demo', '--features'], /option "--features" needs a value: --features <n>/],
    // A negative value is a value: the check says what it must be, not that it is missing.
    [['demo', '--features', '-5'], /^export-task demo: expected --features to be positive \(a whole number from 10000 to 5000000\), got -5 \(see "export-task demo --help"\)\n$/],
    [['demo', '--seed', '-1'], /expected --seed to be zero or more \(a whole number from 0 to 4294967295\), got -1/],
    [['demo', '--features', '-5.5'], /expected --features to be a whole number from 10000 to 5000000, got "-5\.5"/],
    [['demo', '--features', '--plain'], /option "--features" needs a value/],
    [['demo', '--plain=yes'], /option "--plain" takes no value/],
    [['demo', 'extra'], /unexpected argument "extra": demo takes no arguments/],
  ])('exits 2 for %j', async (args, message) => {
    const { code, stderr } = await runCli(args);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });
});
