#!/usr/bin/env node
/**
 * The `export-task` command line. Each subcommand lives in its own module and is listed in
 * {@link COMMANDS}; this module parses the command line, prints help and usage errors, and
 * runs the command.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { addCommand } from './commands/add.js';
import { exportCommand } from './commands/export.js';
import { getCommand } from './commands/get.js';
import { lsCommand } from './commands/ls.js';
import { serveCommand } from './commands/serve.js';
import { tokenCommand } from './commands/token.js';
import { watchCommand } from './commands/watch.js';
import { workerCommand } from './commands/worker.js';
import { demoCommand } from './demo.js';

/** One flag of a command. */
export interface CliOption {
  readonly type: 'string' | 'boolean';
  readonly short?: string | undefined;
  /** How the flag's value is called in the help (`--features <n>`); string flags only. */
  readonly valueName?: string | undefined;
  /** May be given more than once (`--export a --export b`); its value is then an array. */
  readonly multiple?: boolean | undefined;
  readonly description: string;
}

/** One positional argument of a command, shown as `<name>` in its usage. */
export interface CliArgument {
  readonly name: string;
  readonly description: string;
  /** May be left out (shown as `[name]`); only trailing arguments may be optional. */
  readonly optional?: boolean | undefined;
  /** Takes every remaining argument (shown as `[name...]`); the last argument only. */
  readonly variadic?: boolean | undefined;
}

/** What a command gets to talk to the world. */
export interface CliIo {
  readonly stdout: NodeJS.WritableStream & { readonly isTTY?: boolean | undefined; readonly columns?: number | undefined };
  readonly stderr: NodeJS.WritableStream;
  /** What `add PRODUCT -` reads. */
  readonly stdin: NodeJS.ReadableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Aborted on Ctrl-C: the command should stop, clean up, and return. */
  readonly signal: AbortSignal;
}

/**
 * A subcommand. Adding one (`serve`, `watch`, ...) is a module `src/cli/<name>.ts` exporting
 * such an object, and a line in {@link COMMANDS}. The module matches this shape structurally
 * and does not import this one, which runs the command line as soon as it is loaded.
 *
 * @typeParam TOptions - What `parse` makes of the flags, for `run`.
 */
export interface CliCommand<TOptions> {
  readonly name: string;
  /** One line, for the list of commands. */
  readonly summary: string;
  /** Paragraphs for the command's own help. */
  readonly description: string;
  readonly options: Readonly<Record<string, CliOption>>;
  /** The positional arguments, in order; none when absent. Their count is checked before `parse`. */
  readonly arguments?: readonly CliArgument[] | undefined;
  /**
   * Turns the parsed flags and the positional arguments into the command's options.
   * @throws TypeError saying what was expected: a usage error (exit code 2).
   */
  parse(values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>, positionals: readonly string[]): TOptions;
  /** Runs the command; resolves to its exit code. */
  run(options: TOptions, io: CliIo): Promise<number>;
}

/** Every command, in the order the help lists them. */
const COMMANDS: readonly CliCommand<unknown>[] = [addCommand, exportCommand, watchCommand, lsCommand, getCommand, serveCommand, workerCommand, tokenCommand, demoCommand];

const PROGRAM = 'export-task';
const HELP_OPTION: CliOption = { type: 'boolean', short: 'h', description: 'Show this help' };

/** A mistake on the command line: printed with the usage, exit code 2. */
class UsageError extends Error {
  override readonly name = 'UsageError' as const;
  readonly command: CliCommand<unknown> | undefined;

  constructor(message: string, command?: CliCommand<unknown>) {
    super(message);
    this.command = command;
  }
}

/**
 * Runs the command line `argv` (without the node and script paths).
 *
 * @param argv - The arguments.
 * @param io - Streams, environment and the interrupt signal.
 * @returns The exit code: the command's, 0 for help, 2 for a usage error.
 * @throws whatever the command throws (a crash: the caller prints it, exit code 1).
 */
async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let parsed: { command: CliCommand<unknown>; options: unknown } | 'help';
  try {
    parsed = parseCommandLine(argv, io);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    // One line: what was wrong and what was expected, then where the whole usage is (a screen of
    // help would push the one line that matters out of sight).
    const where = error.command === undefined ? PROGRAM : `${PROGRAM} ${error.command.name}`;
    io.stderr.write(`${where}: ${error.message} (see "${where} --help")\n`);
    return 2;
  }
  if (parsed === 'help') return 0;
  return parsed.command.run(parsed.options, io);
}

/** Parses `argv`, printing help (and answering `'help'`) when asked. @throws UsageError */
function parseCommandLine(argv: readonly string[], io: CliIo): { command: CliCommand<unknown>; options: unknown } | 'help' {
  const [first, ...rest] = argv;
  if (first === undefined) throw new UsageError(`expected a command: ${commandNames()}`);
  if (first === 'help' || first === '--help' || first === '-h') {
    const [topic, ...extra] = rest;
    if (extra.length > 0) throw new UsageError(`help takes at most one command name, got ${extra.length + 1} arguments`);
    io.stdout.write(`${topic === undefined ? usage() : commandUsage(findCommand(topic))}\n`);
    return 'help';
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option ${quote(first)}: expected a command first (${commandNames()}) or --help`);
  const command = findCommand(first);
  // Help wins over anything else on the line, so `demo --bogus --help` still shows the help.
  const end = rest.indexOf('--');
  if ((end === -1 ? rest : rest.slice(0, end)).some((arg) => arg === '--help' || arg === '-h')) {
    io.stdout.write(`${commandUsage(command)}\n`);
    return 'help';
  }
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  let positionals: string[];
  const takesArguments = (command.arguments ?? []).length > 0;
  try {
    ({ values, positionals } = parseArgs({ args: attachNegativeValues(rest, command), options: parseArgsOptions(command), strict: true, allowPositionals: takesArguments }));
  } catch (error) {
    throw new UsageError(describeParseError(error, command), command);
  }
  checkArgumentCount(command, positionals);
  try {
    return { command, options: command.parse(values, positionals) };
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(error.message, command);
    throw error;
  }
}

/** @throws UsageError naming the missing argument, or the first one too many. */
function checkArgumentCount(command: CliCommand<unknown>, positionals: readonly string[]): void {
  const declared = command.arguments ?? [];
  const required = declared.filter((a) => a.optional !== true && a.variadic !== true);
  if (positionals.length < required.length) {
    const missing = required[positionals.length]!;
    throw new UsageError(`missing <${missing.name}> (${missing.description}): expected ${argumentSynopsis(command)}`, command);
  }
  if (declared.at(-1)?.variadic !== true && positionals.length > declared.length) {
    const extra = positionals[declared.length]!;
    throw new UsageError(`unexpected argument ${quote(extra)}: expected ${argumentSynopsis(command)}`, command);
  }
}

function argumentSynopsis(command: CliCommand<unknown>): string {
  return (command.arguments ?? [])
    .map((a) => (a.variadic === true ? `[${a.name}...]` : a.optional === true ? `[${a.name}]` : `<${a.name}>`))
    .join(' ');
}

function findCommand(name: string): CliCommand<unknown> {
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) throw new UsageError(`unknown command ${quote(name)}: expected one of ${commandNames()}`);
  return command;
}

function commandNames(): string {
  return [...COMMANDS.map((c) => c.name), 'help'].join(', ');
}

function parseArgsOptions(command: CliCommand<unknown>): Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, option] of Object.entries({ ...command.options, help: HELP_OPTION })) {
    options[name] = {
      type: option.type,
      ...(option.short === undefined ? {} : { short: option.short }),
      ...(option.multiple === true ? { multiple: true } : {}),
    };
  }
  return options;
}

/**
 * Writes `--flag -5` as `--flag=-5` for the command's value flags: `parseArgs` takes an argument
 * that starts with `-` for another option, and would say `--flag` "needs a value" when it was given
 * one, only a negative one, which the command's own check then rejects saying what it expects.
 */
function attachNegativeValues(args: readonly string[], command: CliCommand<unknown>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    const name = arg.startsWith('--') ? arg.slice(2) : arg.length === 2 && arg.startsWith('-') ? longName(command, arg.slice(1)) : undefined;
    if (name !== undefined && command.options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|Infinity)/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

function longName(command: CliCommand<unknown>, short: string): string | undefined {
  return Object.entries(command.options).find(([, option]) => option.short === short)?.[0];
}

/** Node's messages suggest `--` for positionals; ours say what the command takes instead. */
function describeParseError(error: unknown, command: CliCommand<unknown>): string {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
  const expected = `expected ${optionNames(command)}`;
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${quote(quoted)}: ${expected}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quote(quoted)}: ${command.name} takes no arguments, only options (${optionNames(command)})`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const flag = quoted.split(' ')[0] ?? quoted;
      const option = command.options[flag.replace(/^-+/, '')];
      return option?.type === 'boolean'
        ? `option ${quote(flag)} takes no value`
        : `option ${quote(flag)} needs a value: ${flag} <${option?.valueName ?? 'value'}>`;
    }
    default:
      return message;
  }
}

function optionNames(command: CliCommand<unknown>): string {
  return [...Object.entries(command.options).map(([name, option]) => flagSynopsis(name, option)), '--help'].join(', ');
}

function flagSynopsis(name: string, option: CliOption): string {
  const short = option.short === undefined ? '' : `-${option.short}, `;
  return `${short}--${name}${option.type === 'string' ? ` <${option.valueName ?? 'value'}>` : ''}${option.multiple === true ? '...' : ''}`;
}

function quote(text: string): string {
  return `"${text}"`;
}

/** The program's usage. */
function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length), 'help'.length);
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Track long-running export jobs: start them, follow their progress, download their output.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    `  ${'help'.padEnd(width)}  Show this help, or a command's (help <command>)`,
    '',
    `Run "${PROGRAM} <command> --help" for a command's options.`,
  ].join('\n');
}

/** A command's usage and options. */
function commandUsage(command: CliCommand<unknown>): string {
  const flags = [...Object.entries(command.options), ['help', HELP_OPTION] as const].map(([name, option]) => [flagSynopsis(name, option), option.description] as const);
  const args = (command.arguments ?? []).map((a) => [a.variadic === true ? `${a.name}...` : a.name, a.description] as const);
  const width = Math.max(...flags.map(([flag]) => flag.length), ...args.map(([name]) => name.length));
  const synopsis = argumentSynopsis(command);
  return [
    `Usage: ${PROGRAM} ${command.name} [options]${synopsis === '' ? '' : ` ${synopsis}`}`,
    '',
    command.description,
    '',
    ...(args.length === 0 ? [] : ['Arguments:', ...args.map(([name, description]) => `  ${name.padEnd(width)}  ${description}`), '']),
    'Options:',
    ...flags.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`),
  ].join('\n');
}

/** Runs `main` for this process: real streams, Ctrl-C aborts the command, the exit code is set (never forced). */
function runProcess(): void {
  const controller = new AbortController();
  // The first Ctrl-C asks the command to stop and clean up; a second one kills (the default).
  const onInterrupt = (): void => controller.abort(new Error('Interrupted'));
  process.once('SIGINT', onInterrupt);
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, signal: controller.signal })
    .then(
      (code) => {
        process.exitCode = code;
      },
      (error: unknown) => {
        process.stderr.write(`${PROGRAM}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        process.exitCode = 1;
      },
    )
    .finally(() => process.removeListener('SIGINT', onInterrupt));
}

runProcess();
