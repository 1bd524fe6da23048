import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root: the CLI runs from there, as `npx tsx src/cli/main.ts` would. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The CLI's source, run with tsx from any working directory. */
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
/** tsx's loader by URL, as `--import tsx` resolves it only from the repository. */
const TSX = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

/** What a run of the CLI printed, and how it exited. */
export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI from source in a child process, stdout and stderr piped (so not a TTY), and
 * waits for it to exit by itself: a handle left open would hang it, and fail the test by timeout.
 * `onStdout` sees the output so far each time more arrives, to act while the command runs; `stdin`,
 * when given, is what the command reads on standard input (otherwise it is empty).
 */
export function runCli(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
  onStdout?: (stdoutSoFar: string) => void,
  cwd: string = ROOT,
  stdin?: string,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // Without `stdin`, an empty one: a command reading it sees its end at once, as from /dev/null.
    child.stdin.end(stdin ?? '');
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      onStdout?.(stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
