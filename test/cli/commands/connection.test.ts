import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CommandError, describeError, parseConnection } from '../../../src/cli/commands/connection.js';
import { NotFoundError } from '../../../src/index.js';

/** A port on 127.0.0.1 that nothing listens on: one that was free a moment ago. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('describeError', () => {
  it('names the URL it could not reach and why, with what to check', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const error: unknown = await fetch(url).catch((e: unknown) => e);
    expect(describeError(error, url)).toMatch(
      new RegExp(`^could not reach ${url.replaceAll('.', '\\.')} \\(connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+\\): is the service running there\\? Check --url or EXPORT_TASK_URL$`),
    );
  });

  it("names the service's errors by class, and a command's own error by its message", () => {
    expect(describeError(new NotFoundError('No export e1 in product roads'))).toBe('NotFoundError: No export e1 in product roads');
    expect(describeError(new CommandError('out.ndjson exists: pass --force'))).toBe('out.ndjson exists: pass --force');
    expect(describeError('a string')).toBe('a string');
  });
});

describe('parseConnection', () => {
  it.each([
    [{ url: 'localhost:8080' }, 'expected --url to be an http(s) URL such as http://127.0.0.1:8080, got "localhost:8080"'],
    [{ url: 'ws://127.0.0.1:8080' }, 'expected --url to be an http(s) URL such as http://127.0.0.1:8080, got "ws://127.0.0.1:8080"'],
    [{ token: '' }, 'expected --token to be non-empty, got ""'],
  ])('refuses %j with a TypeError saying what was expected', (values, message) => {
    expect(() => parseConnection(values)).toThrow(new TypeError(message));
  });

  it('keeps a good URL and token, and leaves absent ones for the environment', () => {
    expect(parseConnection({ url: 'http://127.0.0.1:8080', token: 't' })).toEqual({ url: 'http://127.0.0.1:8080', token: 't' });
    expect(parseConnection({})).toEqual({ url: undefined, token: undefined });
  });
});
