/**
 * Starts the dashboard: the reference service with a seeded product, and a Vite server for the
 * page that proxies the service's routes (`/vector`, `/storage`), so that the page, its event
 * streams and its download links all share one origin and the service needs no CORS. Both
 * listen on 127.0.0.1 only.
 */
import { fileURLToPath } from 'node:url';
import { build, createServer, preview, type InlineConfig } from 'vite';
import { startServer, type ServerOptions } from '../../src/server/index.js';
import { DASHBOARD_PRODUCT } from './product.js';
import { seedProduct } from './seed.js';

const ROOT = fileURLToPath(new URL('.', import.meta.url));

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
  /** Options of the service (`startServer`); `host` is always 127.0.0.1. */
  readonly service?: Omit<ServerOptions, 'host'>;
}

/** A running dashboard. */
export interface Dashboard {
  /** The page, e.g. `http://127.0.0.1:5173/`. */
  readonly url: string;
  /** The service, e.g. `http://127.0.0.1:41234`. */
  readonly serviceUrl: string;
  readonly productId: string;
  readonly features: number;
  /** Stops the page's server, then the service (which removes its temporary data). */
  close(): Promise<void>;
}

/** Vite's settings for the dashboard: its own JSX transform, no plugin, the service proxied. */
export function dashboardViteConfig(serviceUrl: string, port: number): InlineConfig {
  const proxy = { '/vector': serviceUrl, '/storage': serviceUrl };
  return {
    root: ROOT,
    configFile: false,
    logLevel: 'warn',
    mode: 'development',
    define: { 'process.env.NODE_ENV': JSON.stringify('development') },
    oxc: { jsx: { runtime: 'automatic' } },
    server: { host: '127.0.0.1', port, strictPort: port !== 0, proxy },
    preview: { host: '127.0.0.1', port, strictPort: port !== 0, proxy },
  };
}

export async function startDashboard(options: DashboardOptions = {}): Promise<Dashboard> {
  const features = options.features ?? 100_000;
  const port = options.port ?? 5173;
  const service = await startServer({ ...options.service, host: '127.0.0.1' });
  try {
    await seedProduct(service.url, DASHBOARD_PRODUCT, features);
    const config = dashboardViteConfig(service.url, port);
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
    if (url === undefined) {
      await stopPage();
      throw new Error('The dashboard page listens on no local address');
    }
    return {
      url,
      serviceUrl: service.url,
      productId: DASHBOARD_PRODUCT,
      features,
      async close() {
        try {
          await stopPage();
        } finally {
          await service.close();
        }
      },
    };
  } catch (error) {
    await service.close();
    throw error;
  }
}
