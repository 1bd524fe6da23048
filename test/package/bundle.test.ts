/**
 * The package bundled as a browser app's users bundle it: a small app
 * (test/package/browser-app: `createClient`, `TaskStore`, `replay` and `export-task/react`)
 * importing `export-task` by its name, built by esbuild with `--platform=browser` and by Vite,
 * each failing on any error or warning; the output must hold no Node built-in and nothing of the
 * service. The app is also type-checked without `@types/node` and with `skipLibCheck: false`.
 *
 * The app's project is a temporary directory whose `node_modules` links this repository as
 * `export-task` (so its `exports` map and its build are what resolve) and React from here.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build as esbuild, type Message } from 'esbuild';
import { build as viteBuild, createLogger, type Rollup } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APP = fileURLToPath(new URL('./browser-app/', import.meta.url));

/** Texts found only in the service (the embedded service, its engine, the HTTP server) and the Node file target. */
const SERVICE_MARKERS = [
  'This embedded export service is closed',
  'Expected the options of createEmbeddedBackend()',
  'export-job.worker',
  'worker_threads',
  'better-sqlite3',
  'fastify',
];

/** An import of a Node built-in in bundled code: `from "fs"`, `require("node:fs")`, `import("os")`. */
const BUILTIN_IMPORT = new RegExp(
  `(?:from\\s*|require\\(\\s*|import\\(\\s*)["'](?:node:[^"']+|${builtinModules.filter((name) => !name.startsWith('_')).map((name) => name.replace(/[/]/g, '\\/')).join('|')})["']`,
);

let project: string;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) throw new Error('No build to bundle: run `npm run build` first (`npm test` does).');
  project = await mkdtemp(join(tmpdir(), 'export-task-bundle-'));
  await cp(APP, project, { recursive: true });
  await mkdir(join(project, 'node_modules', '@types'), { recursive: true });
  await symlink(ROOT, join(project, 'node_modules', 'export-task'), 'dir');
  for (const name of ['react', 'react-dom', '@types/react', '@types/react-dom']) {
    await symlink(join(ROOT, 'node_modules', name), join(project, 'node_modules', name), 'dir');
  }
});

afterAll(async () => {
  if (project !== undefined) await rm(project, { recursive: true, force: true });
});

const text = (messages: readonly Message[]): string[] => messages.map((m) => `${m.location?.file ?? ''}:${m.location?.line ?? ''} ${m.text}`);

function expectBrowserOnly(code: string): void {
  expect(code.match(BUILTIN_IMPORT)?.[0], 'an import of a Node built-in').toBeUndefined();
  for (const marker of SERVICE_MARKERS) expect(code.includes(marker), `the bundle holds "${marker}", which is the service's`).toBe(false);
  // What the app uses is there (the check reads the right output): the client's own texts.
  for (const used of ['createClient()', 'last-event-id', 'replay()']) expect(code.includes(used), `the bundle lacks "${used}"`).toBe(true);
}

describe('a browser app bundling export-task', () => {
  it('bundles with esbuild --platform=browser, no external, without an error or a warning', async () => {
    const result = await esbuild({
      absWorkingDir: project,
      entryPoints: ['app.tsx'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      minify: true,
      jsx: 'automatic',
      define: { 'process.env.NODE_ENV': '"production"' },
      write: false,
      outdir: 'out',
      logLevel: 'silent',
    }).catch((error: { errors?: Message[] }) => {
      throw new Error(`esbuild failed:\n${text(error.errors ?? []).join('\n')}`);
    });
    expect(text(result.errors)).toEqual([]);
    expect(text(result.warnings)).toEqual([]);
    expect(result.outputFiles).toHaveLength(1);
    expectBrowserOnly(result.outputFiles[0]!.text);
  });

  it('builds with Vite without an error or a warning', async () => {
    const problems: string[] = [];
    const logger = createLogger('warn', { allowClearScreen: false });
    logger.warn = (message) => void problems.push(`warn: ${message}`);
    logger.warnOnce = (message) => void problems.push(`warn: ${message}`);
    logger.error = (message) => void problems.push(`error: ${message}`);
    const outDir = join(project, 'dist');
    await viteBuild({
      root: project,
      configFile: false,
      customLogger: logger,
      logLevel: 'warn',
      // A production build, as an app ships it (vitest's NODE_ENV=test would pick React's development build).
      mode: 'production',
      define: { 'process.env.NODE_ENV': '"production"' },
      oxc: { jsx: { runtime: 'automatic' } },
      build: {
        outDir,
        emptyOutDir: true,
        reportCompressedSize: false,
        rollupOptions: { onwarn: (warning: Rollup.RollupLog) => void problems.push(`rollup: ${warning.message}`) },
      },
    });
    expect(problems).toEqual([]);
    const assets = await readdir(join(outDir, 'assets'));
    const scripts = assets.filter((file) => file.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    const code = (await Promise.all(scripts.map((file) => readFile(join(outDir, 'assets', file), 'utf8')))).join('\n');
    expectBrowserOnly(code);
  }, 60_000);

  it('type-checks without @types/node, with skipLibCheck: false', async () => {
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const { code, output } = await new Promise<{ code: number; output: string }>((done) => {
      execFile(process.execPath, [tsc, '-p', join(project, 'tsconfig.json'), '--listFiles'], { cwd: project, timeout: 60_000 }, (error, stdout, stderr) => {
        done({ code: error === null ? 0 : 1, output: `${stdout}${stderr}` });
      });
    });
    const files = output.split('\n').filter((line) => line.endsWith('.d.ts') || line.endsWith('.tsx'));
    expect(code, output.split('\n').filter((line) => line.includes('error')).join('\n')).toBe(0);
    expect(files.filter((file) => file.includes('@types/node'))).toEqual([]);
    // The check read the package's own types, through its exports map.
    expect(files.some((file) => file.endsWith('/dist/index.d.ts'))).toBe(true);
    expect(files.some((file) => file.endsWith('/dist/react.d.ts'))).toBe(true);
  }, 60_000);
});
