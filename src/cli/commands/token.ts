/**
 * `export-task token PRODUCT`: prints a scoped, expiring access token for the service started
 * with the same signing key.
 *
 * @packageDocumentation
 */

/** What `token` runs with. */
export interface TokenOptions {
  readonly product: string;
  readonly scope: 'read' | 'write';
  readonly exports: readonly string[] | undefined;
  readonly ttl: string;
  readonly signingKey: string | undefined;
}

/** What a token lives when `--ttl` does not say. */
export const DEFAULT_TTL = '15m';

/** The `token` command, in the shape `src/cli/main.ts` lists its commands in. */
export const tokenCommand = {
  name: 'token',
  summary: 'Print a scoped, expiring access token for one product (for a browser app, say)',
  description: [
    'Signs a token (a JWT, HS256) with the signing key the service runs with (`serve --signing-key`, or',
    'EXPORT_TASK_SIGNING_KEY), and prints it on stdout. It opens one product until it expires: `read` for',
    'status, lists, events and downloads; `write` also adds features, starts and cancels exports. With --export,',
    'only those exports (such a token cannot start exports). Outside its rights the service answers 403;',
    'once expired, 401. Give apps this, never the service token. Prefer EXPORT_TASK_SIGNING_KEY to',
    '--signing-key, which other users of the machine can see in the process list.',
  ].join('\n'),
  arguments: [{ name: 'product', description: 'The product (feature collection) id the token opens' }],
  options: {
    scope: { type: 'string', valueName: 'read|write', description: 'What the token may do (default read)' },
    export: { type: 'string', valueName: 'id', multiple: true, description: 'Only this export (repeat for several; default every export of the product)' },
    ttl: { type: 'string', valueName: 'duration', description: `How long it lives: 30s, 15m, 2h, 1d or seconds (default ${DEFAULT_TTL})` },
    'signing-key': { type: 'string', valueName: 'key', description: 'The service\'s signing key (default EXPORT_TASK_SIGNING_KEY)' },
  },
  parse(values: Readonly<Record<string, string | boolean | string[] | undefined>>, positionals: readonly string[]): TokenOptions {
    const scope = values['scope'] ?? 'read';
    if (scope !== 'read' && scope !== 'write') throw new TypeError(`expected --scope to be read or write, got ${JSON.stringify(scope)}`);
    const exports = values['export'];
    const list = Array.isArray(exports) ? exports : undefined;
    if (list?.some((id) => id === '')) throw new TypeError('expected each --export to be an export id, got ""');
    const ttl = typeof values['ttl'] === 'string' ? values['ttl'] : DEFAULT_TTL;
    const signingKey = typeof values['signing-key'] === 'string' ? values['signing-key'] : undefined;
    return { product: positionals[0]!, scope, exports: list, ttl, signingKey };
  },
  run: token,
} as const;

async function token(options: TokenOptions, io: { readonly stdout: { write(text: string): unknown }; readonly stderr: { write(text: string): unknown }; readonly env: Readonly<Record<string, string | undefined>> }): Promise<number> {
  const signingKey = options.signingKey ?? (io.env['EXPORT_TASK_SIGNING_KEY'] || undefined);
  if (signingKey === undefined) {
    io.stderr.write('export-task token: expected the signing key the service runs with: set EXPORT_TASK_SIGNING_KEY (or pass --signing-key)\n');
    return 2;
  }
  // Loaded here: jose is needed by this command only.
  const { createAccessToken } = await import('../../server/access-tokens.js');
  const ttl = /^\d+$/.test(options.ttl) ? Number(options.ttl) : options.ttl;
  let minted: string;
  try {
    minted = await createAccessToken(signingKey, { product: options.product, scope: options.scope, exports: options.exports, expiresIn: ttl });
  } catch (error) {
    const message = (error as Error).message.replace(/^createAccessToken\(\): /, '').replace('`expiresIn`', '--ttl');
    io.stderr.write(`export-task token: ${message}\n`);
    return 2;
  }
  io.stdout.write(`${minted}\n`);
  return 0;
}
