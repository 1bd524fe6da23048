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
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) {
    throw new Error('No build to pack: run `npm run build` first (`npm test` does).');
  }
  work = await mkdtemp(join(tmpdir(), 'export-task-pack-'));
  // The build is already there: `--ignore-scripts` keeps `prepare` from building it again.
  const [info] = JSON.parse(await runOk('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT)) as [
    { filename: string; files: { path: string }[] },
  ];
  tarball = join(work, info.filename);
  packedFiles = info.files.map((f) => f.path);
  packed = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

  project = join(work, 'project');
  await mkdir(project);
  const spec = `file:${relative(project, tarball)}`;
  const lock = (JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  // Optional peers too: a user of `export-task/server` installs them.
  const registry = (process.env['npm_config_registry'] ?? 'https://registry.npmjs.org/').replace(/\/?$/, '/');
  const needed = [...Object.keys(packed.dependencies ?? {}), ...Object.keys(packed.peerDependencies ?? {})];
  const dependencies = Object.fromEntries(needed.map((name) => [name, lock[`node_modules/${name}`]!['version'] as string]));
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'smoke', private: true, dependencies: { ...dependencies, [packed.name]: spec } }));
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
        },
        ...lockClosure(lock, needed, registry),
      },
    }),
  );
  await runOk('npm', ['ci', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], project);
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

describe('the packed package', () => {
  it('holds the build, the README and the manifest, and neither sources nor tests', () => {
    for (const file of ['package.json', 'README.md', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts']) {
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
