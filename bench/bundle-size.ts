/**
 * `npm run bench:bundle`: what export-task weighs in a browser app. esbuild bundles, minified
 * for the browser, (a) a small app of the main entry (`createClient`, `TaskStore`, `replay`),
 * (b) the same app with `export-task/react`, React left out (the app's own), and (c) the
 * baseline: only the exports of its dependencies (xstate, rxjs, immer) that the browser build
 * imports, so (a) - (c) is what export-task adds over them. Sizes are minified and minified + gzip (level 9).
 *
 * The bundles resolve `export-task` through this repository's `exports` map and its build:
 * run `npm run build` first.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The names the build of the main entry and of export-task/react imports from each of its dependencies, following its chunks. */
async function dependencyImports(): Promise<Map<string, Set<string>>> {
  const names = new Map<string, Set<string>>();
  const seen = new Set<string>();
  const visit = async (file: string): Promise<void> => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = await readFile(join(ROOT, 'dist', file), 'utf8');
    for (const match of source.matchAll(/(?:import|export)\s*(?:\{([^}]*)\}\s*from\s*)?"([^"]+)"/g)) {
      const specifier = match[2]!;
      if (specifier.startsWith('./')) await visit(specifier.slice(2));
      else if (match[1] !== undefined && specifier !== 'react') {
        const set = names.get(specifier) ?? new Set<string>();
        for (const name of match[1].split(',')) if (name.trim() !== '') set.add(name.trim().split(/\s+as\s+/)[0]!);
        names.set(specifier, set);
      }
    }
  };
  await visit('index.js');
  await visit('react.js');
  return names;
}

async function measure(dir: string, name: string, source: string, external: string[] = []): Promise<{ min: number; gzip: number }> {
  await writeFile(join(dir, `${name}.ts`), source);
  const result = await build({
    absWorkingDir: dir,
    entryPoints: [`${name}.ts`],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    write: false,
    external,
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'error',
  });
  const code = result.outputFiles[0]!.contents;
  return { min: code.byteLength, gzip: gzipSync(code, { level: 9 }).byteLength };
}

const dir = await mkdtemp(join(tmpdir(), 'export-task-bundle-size-'));
try {
  // The app's node_modules: this repository as `export-task` (resolved through its `exports`,
  // as an app resolves it) and the two dependencies for the baseline.
  await mkdir(join(dir, 'node_modules'));
  await symlink(ROOT, join(dir, 'node_modules', 'export-task'), 'dir');
  for (const name of ['xstate', 'rxjs', 'immer']) await symlink(join(ROOT, 'node_modules', name), join(dir, 'node_modules', name), 'dir');
  const app = `import { createClient, replay, TaskStore } from 'export-task';
const client = createClient({ url: location.origin });
console.log(client, new TaskStore(), replay([{ type: 'queued', product_id: 'p', export_id: 'e', seq: 1, time: '2026-01-01T00:00:00Z' }]));`;
  const withReact = `${app}\nimport { useExportTask, useTaskStore } from 'export-task/react';\nconsole.log(useExportTask, useTaskStore);`;
  const deps = await dependencyImports();
  const baseline = [...deps]
    .map(([module, names]) => `import { ${[...names].sort().join(', ')} } from '${module}';\nconsole.log(${[...names].sort().join(', ')});`)
    .join('\n');
  const rows = [
    ['export-task (main entry: createClient, TaskStore, replay)', await measure(dir, 'app', app)],
    ['export-task + export-task/react (React itself left out)', await measure(dir, 'react-app', withReact, ['react'])],
    [`${[...deps.keys()].join(' + ')} alone (${[...deps].map(([module, used]) => `${module}: ${[...used].sort().join(', ')}`).join('; ')})`, await measure(dir, 'baseline', baseline)],
  ] as const;
  const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;
  console.log('| bundle | minified | minified + gzip |\n| --- | --- | --- |');
  for (const [what, size] of rows) console.log(`| ${what} | ${kib(size.min)} | ${kib(size.gzip)} |`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
