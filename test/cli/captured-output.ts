import { PassThrough } from 'node:stream';

/** A command's stdout and stderr as pipes, and what it has written to each so far. */
export interface CapturedOutput {
  readonly stdout: PassThrough;
  readonly stderr: PassThrough;
  readonly out: () => string;
  readonly err: () => string;
}

/** Two pipes collecting a command's output; `onStdout` sees stdout so far each time more arrives. */
export function captureOutput(onStdout?: (stdoutSoFar: string) => void): CapturedOutput {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    onStdout?.(out);
  });
  stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  return { stdout, stderr, out: () => out, err: () => err };
}
