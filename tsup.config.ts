import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    server: 'src/server/index.ts',
    react: 'src/react/index.ts',
    testing: 'src/testing/index.ts',
    bullmq: 'src/bullmq/index.ts',
    cli: 'src/cli/main.ts',
    'export-job.worker': 'src/server/embedded/export-job.worker.ts',
    'prepare-features.worker': 'src/server/embedded/prepare-features.worker.ts',
  },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', server: 'src/server/index.ts', react: 'src/react/index.ts', testing: 'src/testing/index.ts', bullmq: 'src/bullmq/index.ts' } },
  // An optional peer of export-task/react: the app's own copy, never bundled (two Reacts break hooks).
  external: ['react'],
  sourcemap: true,
  clean: true,
  shims: true,
  target: 'node20',
  outDir: 'dist',
});
