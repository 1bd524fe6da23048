/** The URL without its password, for messages. @internal */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/**
 * Checks a Redis URL given to `startServer({ redis })`, the CLI or the bullmq source.
 * @throws TypeError saying what was expected.
 * @internal
 */
export function checkRedisUrl(value: unknown, name: string): string {
  let ok = false;
  if (typeof value === 'string') {
    try {
      const url = new URL(value);
      ok = (url.protocol === 'redis:' || url.protocol === 'rediss:') && url.hostname !== '';
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    throw new TypeError(
      `Expected \`${name}\` to be a Redis URL such as "redis://127.0.0.1:6379" (redis:// or rediss://, a host, an optional port and /db), got ${
        typeof value === 'string' ? JSON.stringify(redactUrl(value) === '(an unparsable URL)' ? value : redactUrl(value)) : typeof value
      }`,
    );
  }
  return value as string;
}
