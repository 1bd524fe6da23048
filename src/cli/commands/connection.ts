/**
 * What the commands that talk to a running service (`watch`, `ls`, `get`) share: the
 * `--url` and `--token` flags, their environment variables, and how errors are reported.
 *
 * @packageDocumentation
 */
import type { ExportClient } from '../../client/create-client.js';

/** The flags of a command that talks to a service. */
export const CONNECTION_OPTIONS = {
  url: {
    type: 'string',
    valueName: 'url',
    description: 'The service, e.g. http://127.0.0.1:8080 (default EXPORT_TASK_URL)',
  },
  token: {
    type: 'string',
    valueName: 'token',
    description: 'Bearer token (default EXPORT_TASK_TOKEN; prefer it: flags show in the process list)',
  },
} as const;

/** Where a command finds its service, as given on the command line (the environment is read when it runs). */
export interface ConnectionFlags {
  readonly url: string | undefined;
  readonly token: string | undefined;
}

/** Where the command's output goes, and its environment. */
export interface CommandIo {
  readonly stdout: NodeJS.WritableStream & { readonly isTTY?: boolean | undefined; readonly columns?: number | undefined };
  readonly stderr: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal: AbortSignal;
}

/** A problem that is not a crash: printed as one line, exit code `code`. */
export class CommandError extends Error {
  override readonly name = 'CommandError' as const;
  readonly code: number;

  constructor(message: string, code = 1) {
    super(message);
    this.code = code;
  }
}

/** Reads `--url` and `--token`. @throws TypeError for an empty or malformed value (a usage error). */
export function parseConnection(values: Readonly<Record<string, string | boolean | undefined>>): ConnectionFlags {
  const url = values['url'];
  const token = values['token'];
  if (typeof url === 'string') checkUrl('--url', url);
  if (token === '') throw new TypeError('expected --token to be non-empty, got ""');
  return { url: typeof url === 'string' ? url : undefined, token: typeof token === 'string' ? token : undefined };
}

/** Checks an identifier given as an argument. @throws TypeError for an empty one. */
export function checkId(what: string, value: string): string {
  if (value === '') throw new TypeError(`expected <${what}> to be non-empty, got ""`);
  return value;
}

function checkUrl(what: string, value: string): void {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new TypeError(`expected ${what} to be an http(s) URL such as http://127.0.0.1:8080, got ${JSON.stringify(value)}`);
  }
}

/**
 * Opens a client of the service the flags or the environment name, runs `body` with it, and
 * closes it whatever happens. Errors of the service (`NotFoundError`, `UnauthorizedError`, a
 * refused connection, ...) are printed as one line and give exit code 1; usage problems 2.
 *
 * @returns What `body` returns, or the exit code of the error.
 */
export async function withClient(command: string, flags: ConnectionFlags, io: CommandIo, body: (client: ExportClient) => Promise<number>): Promise<number> {
  let client: ExportClient | undefined;
  try {
    // An empty variable is an unset one, as shells make it easy to have.
    const url = flags.url ?? (io.env['EXPORT_TASK_URL'] || undefined);
    const token = flags.token ?? (io.env['EXPORT_TASK_TOKEN'] || undefined);
    if (url === undefined) {
      throw new CommandError('expected the service\'s URL: pass --url <url> (e.g. http://127.0.0.1:8080) or set EXPORT_TASK_URL', 2);
    }
    checkEnvUrl(url);
    // Loaded here: `--help` and usage errors need none of the client.
    const { createClient } = await import('../../index.node.js');
    client = createClient({ url, ...(token === undefined ? {} : { token }) });
    return await body(client);
  } catch (error) {
    const code = error instanceof CommandError ? error.code : 1;
    io.stderr.write(`export-task ${command}: ${describeError(error, flags.url ?? io.env['EXPORT_TASK_URL'])}\n`);
    return code;
  } finally {
    await client?.close();
  }
}

function checkEnvUrl(url: string): void {
  try {
    checkUrl('EXPORT_TASK_URL', url);
  } catch (error) {
    throw new CommandError((error as Error).message, 2);
  }
}

/**
 * One line for an error: the service's errors by name, a service out of reach by its cause.
 *
 * @param url - The service's URL, to name it when it cannot be reached.
 */
export function describeError(error: unknown, url?: string): string {
  if (!(error instanceof Error)) return String(error);
  if (error instanceof CommandError) return error.message;
  // fetch says only "fetch failed"; the reason (ECONNREFUSED 127.0.0.1:8080) is its cause.
  const cause = (error as { cause?: unknown }).cause;
  const reason = cause instanceof Error ? cause.message : undefined;
  if (error instanceof TypeError && error.message === 'fetch failed') {
    const where = url === undefined ? 'the service' : url;
    return `could not reach ${where}${reason === undefined ? '' : ` (${reason})`}: is the service running there? Check --url or EXPORT_TASK_URL`;
  }
  return `${error.name}: ${error.message}${reason === undefined ? '' : `: ${reason}`}`;
}
