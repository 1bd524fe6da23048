import { defineConfig } from 'tsup';

/** The package's entry points: `index` is the browser-safe main entry, `index.node` the main entry in Node. */
const publicEntries = {
  index: 'src/index.ts',
  'index.node': 'src/index.node.ts',
  embedded: 'src/embedded/index.ts',
  server: 'src/server/index.ts',
  react: 'src/react/index.ts',
  testing: 'src/testing/index.ts',
  bullmq: 'src/bullmq/index.ts',
};

export default defineConfig({
  entry: {
    ...publicEntries,
    cli: 'src/cli/main.ts',
    'export-job.worker': 'src/server/embedded/export-job.worker.ts',
    'prepare-features.worker': 'src/server/embedded/prepare-features.worker.ts',
  },
  format: ['esm', 'cjs'],
  // `ExportClient` is `AsyncDisposable` (`await using`): TypeScript's own lib declares it, so the
  // types need neither `@types/node` nor `esnext` in the app's `lib`.
  dts: { entry: publicEntries, banner: '/// <reference lib="esnext.disposable" />' },
  // An optional peer of export-task/react: the app's own copy, never bundled (two Reacts break hooks).
  external: ['react'],
  // `node:fs` stays `node:fs`: a bundler (or a check of a bundle) tells Node's built-ins by it.
  removeNodeProtocol: false,
  sourcemap: true,
  clean: true,
  shims: true,
  target: 'node20',
  outDir: 'dist',
});
