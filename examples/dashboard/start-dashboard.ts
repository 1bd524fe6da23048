/**
 * Starts the dashboard the way it runs in production: the page is served from its own origin,
 * the export service listens on another port and allows that origin (CORS), and the page never
 * sees the service's master token. It gets a short-lived `write` token scoped to its one product
 * from a small token endpoint of the page's server (`GET /api/export-token`), and asks again
 * before that token expires. Both listen on 127.0.0.1 only.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build, createServer, preview, type InlineConfig, type Plugin } from 'vite';
import { createAccessToken, startServer, type ExportServer, type ServerOptions } from '../../src/server/index.js';
import { DASHBOARD_PRODUCT } from './product.js';
import { seedProduct } from './seed.js';

const ROOT = fileURLToPath(new URL('.', import.meta.url));

/** Where the page asks for its session (the service's URL, its product and a token). */
export const TOKEN_ENDPOINT = '/api/export-token';

/** What the token endpoint answers the page. */
export interface DashboardSession {
  /** The export service, on another origin than the page. */
  readonly serviceUrl: string;
  /** The one product the token opens. */
  readonly productId: string;
  /** A `write` token of that product (a JWT). */
  readonly token: string;
  /** How long the token lives, in seconds. */
  readonly expiresIn: number;
}

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** The page's port; 0 picks a free one. @defaultValue 5173 */
  readonly port?: number;
  /** How many generated roads the product holds. @defaultValue 100000 */
  readonly features?: number;
  /**
   * `dev`: Vite's dev server (for people: it transforms on request). `build`: a development
   * build served as files (for tests: nothing is transformed while the page runs).
   * @defaultValue 'dev'
   */
  readonly mode?: 'dev' | 'build';
  /** Where `build` mode writes the page. @defaultValue `examples/dashboard/dist` */
  readonly outDir?: string;
  /** How long each of the page's tokens lives, in seconds. @defaultValue 900 (15 minutes) */
  readonly tokenTtl?: number;
  /** Options of the service (`startServer`); its host, tokens and CORS are the dashboard's. */
  readonly service?: Omit<ServerOptions, 'host' | 'token' | 'signingKey' | 'cors'>;
}

/** A running dashboard. */
export interface Dashboard {
  /** The page, e.g. `http://127.0.0.1:5173/`. */
  readonly url: string;
  /** The service, e.g. `http://127.0.0.1:41234`: another origin than the page's. */
  readonly serviceUrl: string;
  /** The service's master token (for seeding and tests; never given to the page). */
  readonly serviceToken: string;
  readonly productId: string;
  readonly features: number;
  /** How many tokens the token endpoint has handed out. */
  readonly tokensIssued: number;
  /**
   * Signs the page's next tokens with another key than the service's (as if the service's key
   * had been rotated), so that the service refuses them; `undefined` goes back to the service's key.
   */
  signTokensWith(key: string | undefined): void;
  /** Stops the page's server, then the service (which removes its temporary data). */
  close(): Promise<void>;
}

/** Vite's settings for the dashboard: its own JSX transform, no plugin but the token endpoint, no proxy. */
export function dashboardViteConfig(port: number, tokenEndpoint: Plugin): InlineConfig {
  return {
    root: ROOT,
    configFile: false,
    logLevel: 'warn',
    mode: 'development',
    define: { 'process.env.NODE_ENV': JSON.stringify('development') },
    oxc: { jsx: { runtime: 'automatic' } },
    plugins: [tokenEndpoint],
    server: { host: '127.0.0.1', port, strictPort: port !== 0 },
    preview: { host: '127.0.0.1', port, strictPort: port !== 0 },
  };
}

export async function startDashboard(options: DashboardOptions = {}): Promise<Dashboard> {
  const features = options.features ?? 100_000;
  const port = options.port ?? 5173;
  const tokenTtl = options.tokenTtl ?? 900;
  const serviceToken = randomBytes(24).toString('hex');
  const signingKey = randomBytes(32).toString('hex');
  let tokenKey = signingKey;
  let service: ExportServer | undefined;
  let tokensIssued = 0;

  // The page's server answers its session; the service is another origin, which it never proxies.
  const answer = (request: IncomingMessage, response: ServerResponse): void => {
    if (request.method !== 'GET' || service === undefined) {
      response.writeHead(service === undefined ? 503 : 405, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'GET only, once the service runs' }));
      return;
    }
    const serviceUrl = service.url;
    createAccessToken(tokenKey, { product: DASHBOARD_PRODUCT, scope: 'write', expiresIn: tokenTtl }).then(
      (token) => {
        tokensIssued++;
        const session: DashboardSession = { serviceUrl, productId: DASHBOARD_PRODUCT, token, expiresIn: tokenTtl };
        response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(session));
      },
      (error: unknown) => {
        response.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: (error as Error).message }));
      },
    );
  };
  const tokenEndpoint: Plugin = {
    name: 'export-task-token-endpoint',
    configureServer: (server) => void server.middlewares.use(TOKEN_ENDPOINT, answer),
    configurePreviewServer: (server) => void server.middlewares.use(TOKEN_ENDPOINT, answer),
  };

  const config = dashboardViteConfig(port, tokenEndpoint);
  let url: string | undefined;
  let stopPage: () => Promise<void>;
  if (options.mode === 'build') {
    const outDir = options.outDir ?? fileURLToPath(new URL('./dist', import.meta.url));
    await build({ ...config, build: { outDir, emptyOutDir: true, minify: false, reportCompressedSize: false } });
    const server = await preview({ ...config, build: { outDir } });
    url = server.resolvedUrls?.local[0];
    stopPage = () => server.close();
  } else {
    const server = await createServer(config);
    await server.listen();
    url = server.resolvedUrls?.local[0];
    stopPage = () => server.close();
  }
  try {
    if (url === undefined) throw new Error('The dashboard page listens on no local address');
    service = await startServer({ ...options.service, host: '127.0.0.1', token: serviceToken, signingKey, cors: { origins: [new URL(url).origin] } });
    await seedProduct(service.url, DASHBOARD_PRODUCT, features, serviceToken);
  } catch (error) {
    await stopPage();
    await service?.close();
    throw error;
  }
  const running = service;
  return {
    url,
    serviceUrl: running.url,
    serviceToken,
    productId: DASHBOARD_PRODUCT,
    features,
    get tokensIssued() {
      return tokensIssued;
    },
    signTokensWith(key) {
      tokenKey = key ?? signingKey;
    },
    async close() {
      try {
        await stopPage();
      } finally {
        await running.close();
      }
    },
  };
}
