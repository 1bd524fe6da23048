/**
 * The package as users get it: `npm pack` of the build (the test command builds first), checked
 * by publint and Are the Types Wrong, then installed by npm into a temporary project and loaded
 * through every subpath of its `exports`, from ESM and from CommonJS.
 *
 * The install is offline, so it runs in CI and on a plane alike: the temporary project gets a
 * lockfile cut from this repository's (the package's dependencies and optional peers, at the
 * versions `npm ci` just installed, so their tarballs are in npm's cache), and `npm ci --offline`
 * installs from the cache by integrity. (`npm install --offline <tarball>` needs each dependency's
 * registry metadata too, which `npm ci` does not always cache.)
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'node_modules', '.bin');

interface PackageJson {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly exports: Record<string, unknown>;
  readonly bin?: Record<string, string>;
  readonly scripts?: Record<string, string>;
}

interface LockEntry {
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly [field: string]: unknown;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Names each subpath must export (a subpath not listed here must export something). */
const EXPECTED_NAMES: Readonly<Record<string, readonly string[]>> = {
  '.': [
    'createClient',
    'createEmbeddedBackend',
    'exportTaskMachine',
    'TaskStore',
    'replay',
    'parseTaskEvent',
    'asCompleted',
    'ExportTask',
    'FeatureCollection',
    'TimeoutError',
    'TransientResultError',
    'NoResultError',
    'InvalidEventError',
    'HttpError',
    'NotFoundError',
    'RateLimitError',
  ],
  './embedded': ['createEmbeddedBackend'],
  './react': ['useExportTask', 'useTaskStore', 'useStartExport', 'shallowEqual'],
  './server': ['startServer', 'startWorker'],
  './bullmq': ['fromBullmq', 'JOB_REMOVED'],
  './testing': [
    'taskHistoryArb',
    'hostileDeliveryArb',
    'hostileStreamArb',
    'applyDelivery',
    'malformedEventArb',
    'createTestBackend',
    'createScheduledBackend',
    'createTaskTestModel',
    'taskPaths',
    'forEachTaskPath',
  ],
};

/** The run-time dependencies a browser app of the main entry may load (SPEC section 1). */
const BROWSER_DEPENDENCIES = new Set(['xstate', 'rxjs', 'immer']);

/**
 * The environment of a child npm or node: without what `npm test` exports for its own scripts
 * (`npm_config_local_prefix` and the like would point a nested npm at this repository).
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  for (const [key, value] of Object.entries(process.env)) {
    if (key.toLowerCase().startsWith('npm_') && !keep.has(key.toLowerCase())) continue;
    env[key] = value;
  }
  return env;
}

function run(file: string, args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((done) => {
    execFile(file, args, { cwd, env: childEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      done({ code, stdout, stderr: error !== null && stderr === '' ? error.message : stderr });
    });
  });
}

/** Runs and expects success, failing with what the command printed. */
async function runOk(file: string, args: readonly string[], cwd: string): Promise<string> {
  const result = await run(file, args, cwd);
  if (result.code !== 0) {
    throw new Error(`\`${[file, ...args].join(' ')}\` exited with ${result.code}:\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

/**
 * The entries of `lock` that npm installs for `names` required from the project root: each name
 * resolved as Node does (the nearest `node_modules` up from the requiring package), transitively.
 */
function lockClosure(lock: Record<string, LockEntry>, names: readonly string[], registry: string): Record<string, LockEntry> {
  const entries: Record<string, LockEntry> = {};
  const todo = names.map((name) => ({ from: '', name, optional: false }));
  for (let item = todo.pop(); item !== undefined; item = todo.pop()) {
    let base = item.from;
    let key: string | undefined;
    for (;;) {
      const candidate = `${base === '' ? '' : `${base}/`}node_modules/${item.name}`;
      if (lock[candidate] !== undefined) {
        key = candidate;
        break;
      }
      if (base === '') break;
      const up = base.lastIndexOf('/node_modules/');
      base = up < 0 ? '' : base.slice(0, up);
    }
    if (key === undefined) {
      // An optional dependency that npm left out here (another platform's build) stays out.
      if (item.optional) continue;
      throw new Error(`package-lock.json has no entry for ${item.name} (required by ${item.from || 'the package'})`);
    }
    if (entries[key] !== undefined) continue;
    // Installed as the smoke project's own dependencies: not dev-only, whatever they are here.
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = lock[key]!;
    // With its tarball's URL (lockfiles may leave it out), npm fetches it by integrity, from the
    // cache when offline, instead of first asking the registry's metadata where it is.
    const name = key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
    entries[key] = { resolved: `${registry}${name}/-/${name.slice(name.indexOf('/') + 1)}-${String(entry['version'])}.tgz`, ...entry };
    for (const dependency of Object.keys(entry.dependencies ?? {})) todo.push({ from: key, name: dependency, optional: false });
    // Optional ones too (a native build of msgpackr, through bullmq): `npm ci` wants them in the
    // lockfile, and skips at install those whose `os` and `cpu` do not match this machine.
    for (const dependency of Object.keys(entry.optionalDependencies ?? {})) todo.push({ from: key, name: dependency, optional: true });
  }
  return entries;
}

/** Every bare specifier a module imports statically, following its relative static imports. */
async function staticBareImports(entry: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const seen = new Set<string>();
  const pattern = /^\s*(?:import|export)\s+(?:[^'";]*?\sfrom\s*)?["']([^"']+)["']/gm;
  const visit = async (file: string): Promise<void> => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = await readFile(file, 'utf8');
    for (const match of source.matchAll(pattern)) {
      const specifier = match[1]!;
      if (specifier.startsWith('.')) await visit(resolve(dirname(file), specifier));
      else found.set(specifier, file);
    }
  };
  await visit(entry);
  return found;
}

let work: string;
let project: string;
let tarball: string;
let packed: PackageJson;
let packedFiles: string[];

/** The lifecycle scripts npm runs when it installs a package (`prepare` too, for git and folder installs). */
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall', 'prepare'];

/** The repository's manifest, as contributors' `npm ci` reads it. */
let repository: PackageJson & { readonly scripts: Record<string, string>; readonly bin: Record<string, string> };
/** The copy's manifest before `npm pack` ran its scripts. */
let copied: Record<string, unknown>;
/** The copy's manifest after (postpack should have put it back). */
let afterPack: Record<string, unknown>;

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
    throw new Error('No build to pack: run `npm run build` first (`npm test` does).');
  }
  work = await mkdtemp(join(tmpdir(), 'export-task-pack-'));
  repository = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as typeof repository;
  // `npm pack` with its lifecycle scripts (prepack, postpack), run on a copy of the manifest and of
  // what `files` can name, so that the tarball is the one `npm publish` would make. In the copy
  // `build` checks that the build is there instead of building again: the test command has just
  // built it, and a build in the repository would empty dist/ under the tests that run dist/cli.js.
  const source = join(work, 'source');
  await mkdir(source);
  await Promise.all(
    ['README.md', 'LICENSE', 'dist'].filter((name) => existsSync(join(ROOT, name))).map((name) => cp(join(ROOT, name), join(source, name), { recursive: true })),
  );
  copied = { ...repository, scripts: { ...repository.scripts, build: `node -e "require('node:fs').accessSync('dist/index.js')"` } };
  await writeFile(join(source, 'package.json'), `${JSON.stringify(copied, null, 2)}\n`);
  const [info] = JSON.parse(await runOk('npm', ['pack', '--json', '--pack-destination', work], source)) as [
    { filename: string; files: { path: string }[] },
  ];
  tarball = join(work, info.filename);
  packedFiles = info.files.map((f) => f.path);
  packed = JSON.parse(await runOk('tar', ['-xzOf', tarball, 'package/package.json'], work)) as PackageJson;
  afterPack = JSON.parse(await readFile(join(source, 'package.json'), 'utf8')) as Record<string, unknown>;

  project = join(work, 'project');
  await mkdir(project);
  const spec = `file:${relative(project, tarball)}`;
  const lock = (JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  // Optional peers too: a user of `export-task/server` installs them.
  const registry = (process.env['npm_config_registry'] ?? 'https://registry.npmjs.org/').replace(/\/?$/, '/');
  const needed = [...Object.keys(packed.dependencies ?? {}), ...Object.keys(packed.peerDependencies ?? {})];
  const dependencies = Object.fromEntries(needed.map((name) => [name, lock[`node_modules/${name}`]!['version'] as string]));
  // With the repository's `overrides` (a cookie that supports Node 20 under fastify), as the
  // README's install section tells users of `serve` on Node 20 to add.
  const overrides = (repository as { overrides?: unknown }).overrides;
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'smoke', private: true, dependencies: { ...dependencies, [packed.name]: spec }, overrides }));
  await writeFile(
    join(project, 'package-lock.json'),
    JSON.stringify({
      name: 'smoke',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'smoke', dependencies: { ...dependencies, [packed.name]: spec } },
        [`node_modules/${packed.name}`]: {
          version: packed.version,
          resolved: spec,
          dependencies: packed.dependencies,
          peerDependencies: packed.peerDependencies,
          // npm ci links the `bin` its lockfile names, as `npx export-task` finds it.
          bin: packed.bin,
        },
        ...lockClosure(lock, needed, registry),
      },
    }),
  );
  await runOk('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], project);
  // better-sqlite3's native build, which its install script would make (or download): the one
  // this repository's install made, of the same version on the same machine.
  const binding = join('node_modules', 'better-sqlite3', 'build', 'Release', 'better_sqlite3.node');
  await mkdir(dirname(join(project, binding)), { recursive: true });
  await cp(join(ROOT, binding), join(project, binding));
}, 180_000);

afterAll(async () => {
  if (work !== undefined && process.env.KEEP_PACK === undefined) await rm(work, { recursive: true, force: true });
});

/** The subpaths of the `exports` map that are modules. */
function moduleSubpaths(): string[] {
  return Object.keys(packed.exports).filter((subpath) => !subpath.endsWith('.json'));
}

const specifierOf = (subpath: string): string => (subpath === '.' ? packed.name : `${packed.name}/${subpath.slice(2)}`);

async function namesFromEsm(specifier: string): Promise<string[]> {
  const script = `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m).sort()));`;
  return JSON.parse(await runOk(process.execPath, ['--input-type=module', '--eval', script], project)) as string[];
}

async function namesFromCjs(specifier: string): Promise<string[]> {
  const script = `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(specifier)})).sort()));`;
  return JSON.parse(await runOk(process.execPath, ['--input-type=commonjs', '--eval', script], project)) as string[];
}

/** Every string in an `exports` map: the files its conditions point at. */
function exportTargets(target: unknown): string[] {
  if (typeof target === 'string') return [target];
  if (typeof target !== 'object' || target === null) return [];
  return Object.values(target).flatMap(exportTargets);
}

/**
 * The packed files a user's program can load: the `exports` targets and the `bin`, then every
 * file they name by a relative string (`import`, `export ... from`, `import()`, `require()`, and
 * the worker thread's file), types following types (`./x.js` in a `.d.ts` is `./x.d.ts`).
 */
async function loadableFiles(root: string, manifest: PackageJson, files: ReadonlySet<string>): Promise<Set<string>> {
  const reached = new Set<string>();
  // The service's worker threads are started by name (spawnWorker builds `./<name>.worker.js`,
  // so that no bundler takes it for a web worker): they are entries too.
  const workers = ['dist/export-job.worker.js', 'dist/prepare-features.worker.js'];
  const todo = [...exportTargets(manifest.exports), ...Object.values(manifest.bin ?? {}), ...workers].map((target) => target.replace(/^\.\//, ''));
  for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
    if (reached.has(file) || !files.has(file)) continue;
    reached.add(file);
    if (!/\.(c|m)?js$|\.d\.(c|m)?ts$/.test(file)) continue;
    const types = /\.d\.(c|m)?ts$/.test(file);
    const source = await readFile(join(root, file), 'utf8');
    for (const [, specifier] of source.matchAll(/["'](\.\.?\/[^"'\s]+)["']/g)) {
      const named = join(dirname(file), specifier!);
      todo.push(types ? named.replace(/\.js$/, '.d.ts').replace(/\.cjs$/, '.d.cts').replace(/\.mjs$/, '.d.mts') : named);
    }
  }
  return reached;
}

describe('the packed manifest', () => {
  it('has no script that runs when users install it, while contributors\' `npm ci` still builds', () => {
    expect(INSTALL_SCRIPTS.filter((name) => packed.scripts?.[name] !== undefined)).toEqual([]);
    // npm runs the root project's `prepare` after `npm ci`: that is the contributors' build.
    expect(repository.scripts['prepare']).toBe('tsup');
    // `npm pack` and `npm publish` build first, then leave `prepare` out of what they pack...
    expect(repository.scripts['prepack']).toMatch(/^npm run build && npm pkg delete scripts\.prepare$/);
    const { prepare: _prepare, ...published } = (copied as { scripts: Record<string, string> }).scripts;
    expect(packed.scripts).toEqual(published);
    // ...and put it back.
    expect(afterPack).toEqual(copied);
  });

  it('holds only the builds users load: each packed file is reached from `exports` or `bin` (or is its source map)', async () => {
    const extracted = join(work, 'extracted');
    await mkdir(extracted);
    await runOk('tar', ['-xzf', tarball, '-C', extracted, '--strip-components=1'], work);
    const files = new Set(packedFiles);
    const loadable = await loadableFiles(extracted, packed, files);
    const unused = packedFiles.filter((file) => file.startsWith('dist/') && !loadable.has(file) && !loadable.has(file.replace(/\.map$/, '')));
    expect(unused).toEqual([]);
    expect(loadable).toContain('dist/cli.js');
    expect(loadable).toContain('dist/export-job.worker.js');
    expect(packedFiles).not.toContain('dist/cli.cjs');
  });
});

describe('the packed command line', () => {
  it('serves, creates a product from a GeoJSON file, starts and follows an export, and lists it, from the installed package alone', async () => {
    const bin = join(project, 'node_modules', '.bin', 'export-task');
    const file = join(work, 'roads.geojson');
    const features = Array.from({ length: 50 }, (_, i) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [i, i / 2] }, properties: { kind: i % 2 === 0 ? 'even' : 'odd' } }));
    await writeFile(file, JSON.stringify({ type: 'FeatureCollection', features }, null, 2));
    const server = spawn(bin, ['serve', '--port', '0', '--data-dir', join(work, 'service')], { cwd: project, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let errors = '';
      server.stderr.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
      const url = await new Promise<string>((resolveUrl, reject) => {
        let out = '';
        server.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          out += chunk;
          const found = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
          if (found !== undefined) resolveUrl(found);
        });
        server.on('error', reject);
        server.on('exit', (code) => reject(new Error(`export-task serve exited with ${String(code)} before serving: ${out}${errors}`)));
      });
      const env = { ...childEnv(), EXPORT_TASK_URL: url };
      const cli = (args: readonly string[]): Promise<Run> =>
        new Promise((done) => {
          execFile(bin, args, { cwd: project, env, timeout: 60_000 }, (error, stdout, stderr) => done({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr }));
        });
      expect(await cli(['add', '--create', 'roads', file])).toMatchObject({ code: 0, stdout: expect.stringContaining('Added 50 features to roads (created it).') as unknown });
      const exported = await cli(['export', '--watch', 'roads', 'exports/even.ndjson', '--query', '{"query_expr":{"eq":{"kind":"even"}}}']);
      expect(exported, exported.stderr).toMatchObject({ code: 0, stderr: '' });
      expect(exported.stdout).toMatch(/^exports\/even\.ndjson {2}success +100%/m);
      const listed = JSON.parse((await cli(['ls', '--json', 'roads'])).stdout) as { status: string; key: string }[];
      expect(listed).toMatchObject([{ status: 'SUCCESS', key: 'exports/even.ndjson' }]);
      // The operations routes answer from the installed package too, the OpenAPI document included.
      expect((await fetch(`${url}/health`)).status).toBe(200);
      const openapi = (await (await fetch(`${url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
      expect(openapi.openapi).toBe('3.1.0');
      expect(Object.keys(openapi.paths)).toContain('/vector/v2/products/{product_id}/search/export');
    } finally {
      server.kill('SIGTERM');
    }
  }, 120_000);
});

describe('the packed package', () => {
  it('holds the build, the README, the LICENSE and the manifest, and neither sources nor tests', () => {
    for (const file of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts']) {
      expect(packedFiles).toContain(file);
    }
    const strays = packedFiles.filter((file) => !file.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(file));
    expect(strays).toEqual([]);
  });

  it('passes publint, warnings included', async () => {
    const result = await run(join(BIN, 'publint'), ['run', '--strict', tarball], ROOT);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
  });

  it('has types that resolve for every subpath and module system (Are the Types Wrong)', async () => {
    const result = await run(join(BIN, 'attw'), [tarball, '--format', 'ascii', '--no-emoji', '--no-color'], ROOT);
    expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
  });

  it('has a types condition first for each subpath, platform and module system', () => {
    const check = (where: string, target: unknown): void => {
      if (typeof target === 'string') return;
      const branches = Object.entries(target as Record<string, unknown>);
      // A leaf: the conditions that pick files, `types` first so TypeScript never reads the JavaScript.
      if (branches.every(([, branch]) => typeof branch === 'string')) {
        expect(branches[0]?.[0], where).toBe('types');
        return;
      }
      for (const [condition, branch] of branches) check(`${where}.${condition}`, branch);
    };
    for (const [subpath, target] of Object.entries(packed.exports)) check(`exports["${subpath}"]`, target);
    expect(Object.keys(packed.exports['.'] as object)[0], 'the `node` condition comes before `import`/`require`').toBe('node');
  });

  it('runs the embedded service from `createClient()` in Node, and says what to do where the entry has none', async () => {
    const body = (from: string): string =>
      `const client = createClient(); const roads = await client.createFeatureCollection('roads'); ` +
      `console.log((await roads.listExports()).length); await client.close(); ` +
      `const browser = await import(${JSON.stringify(from)}); ` +
      `try { browser.createClient(); } catch (error) { console.log(error.message); }`;
    const browserEntry = join(project, 'node_modules', packed.name, 'dist', 'index.js');
    const esm = `import { createClient } from ${JSON.stringify(packed.name)}; ${body(browserEntry)}`;
    const [count, message] = (await runOk(process.execPath, ['--input-type=module', '--eval', esm], project)).trim().split('\n');
    expect(count).toBe('0');
    expect(message).toMatch(/give `url`.*The embedded service \(no URL\) runs in Node only/);
    const cjs = `const { createClient } = require(${JSON.stringify(packed.name)}); (async () => { ${body(browserEntry.replace(/\.js$/, '.cjs'))} })();`;
    const [cjsCount, cjsMessage] = (await runOk(process.execPath, ['--input-type=commonjs', '--eval', cjs], project)).trim().split('\n');
    expect(cjsCount).toBe('0');
    expect(cjsMessage).toMatch(/runs in Node only/);
  });

  it('exports from every module subpath the same names to import and to require', async () => {
    const subpaths = moduleSubpaths();
    expect(subpaths).toContain('.');
    for (const subpath of subpaths) {
      const specifier = specifierOf(subpath);
      const [esm, cjs] = await Promise.all([namesFromEsm(specifier), namesFromCjs(specifier)]);
      expect(esm.length, `${specifier} exports nothing`).toBeGreaterThan(0);
      expect(cjs, `${specifier}: require() and import differ`).toEqual(esm);
      for (const name of EXPECTED_NAMES[subpath] ?? []) expect(esm, `${specifier} lacks ${name}`).toContain(name);
    }
  });

  it('answers the manifest at export-task/package.json', async () => {
    const script = `console.log(require(${JSON.stringify(`${packed.name}/package.json`)}).version)`;
    expect((await runOk(process.execPath, ['--input-type=commonjs', '--eval', script], project)).trim()).toBe(packed.version);
  });

  it('creates a working store from ESM and from CommonJS', async () => {
    const event = { type: 'started', product_id: 'roads', export_id: 'e1', seq: 1, time: '2026-01-01T00:00:00Z' };
    const body = `const store = new TaskStore(); console.log(store.apply(${JSON.stringify(event)}).phase);`;
    const esm = `import { TaskStore } from ${JSON.stringify(packed.name)}; ${body}`;
    const cjs = `const { TaskStore } = require(${JSON.stringify(packed.name)}); ${body}`;
    expect((await runOk(process.execPath, ['--input-type=module', '--eval', esm], project)).trim()).toBe('running');
    expect((await runOk(process.execPath, ['--input-type=commonjs', '--eval', cjs], project)).trim()).toBe('running');
  });

  it('loads, from the main ESM entry, no Node built-in and no package but xstate, rxjs and immer', async () => {
    const installed = join(project, 'node_modules', packed.name);
    const main = (packed.exports['.'] as { import: { default: string } }).import.default;
    const imports = await staticBareImports(join(installed, main));
    const offending = [...imports].filter(([specifier]) => isBuiltin(specifier) || !BROWSER_DEPENDENCIES.has(specifier.split('/')[0]!));
    expect(offending.map(([specifier, file]) => `${specifier} (from ${relative(installed, file)})`)).toEqual([]);
    expect([...imports.keys()]).toContain('xstate');
  });
});
