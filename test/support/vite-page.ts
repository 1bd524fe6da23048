/**
 * Builds a page with Vite (its own JSX transform, no plugin) and serves the build on 127.0.0.1,
 * proxying the export service's routes (`/vector`, `/storage`) to a running service, so the page
 * and the service share an origin and the client needs no CORS.
 *
 * The build is React's development build: its warnings (an uncached `getSnapshot`, a state
 * update on an unmounted component, a missing key) reach the console, where tests look for them.
 */
import { build, preview, type InlineConfig, type PreviewServer } from 'vite';

/** A built page being served. */
export interface ServedPage {
  /** The page's URL, such as `http://127.0.0.1:4173/`. */
  readonly url: string;
  close(): Promise<void>;
}

/** The Vite settings every page of the project uses (the dashboard's dev server too). */
export function pageConfig(root: string, serviceUrl: string): InlineConfig {
  const proxy = { '/vector': serviceUrl, '/storage': serviceUrl };
  return {
    root,
    configFile: false,
    logLevel: 'warn',
    mode: 'development',
    define: { 'process.env.NODE_ENV': JSON.stringify('development') },
    oxc: { jsx: { runtime: 'automatic' } },
    server: { host: '127.0.0.1', strictPort: false, proxy },
    preview: { host: '127.0.0.1', strictPort: false, proxy },
  };
}

/** Builds the page at `root` (its `index.html`) into `outDir`, then serves it on a free port of 127.0.0.1. */
export async function buildAndServe(root: string, outDir: string, serviceUrl: string): Promise<ServedPage> {
  const config = pageConfig(root, serviceUrl);
  await build({ ...config, build: { outDir, emptyOutDir: true, minify: false, reportCompressedSize: false } });
  const server: PreviewServer = await preview({ ...config, build: { outDir }, preview: { ...config.preview, port: 0 } });
  const url = server.resolvedUrls?.local[0];
  if (url === undefined) {
    await server.close();
    throw new Error('The page server listens on no local address');
  }
  return { url, close: () => server.close() };
}
