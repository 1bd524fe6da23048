import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    server: 'src/server/index.ts',
    cli: 'src/cli/main.ts',
    'export-job.worker': 'src/server/embedded/export-job.worker.ts',
  },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', server: 'src/server/index.ts' } },
  sourcemap: true,
  clean: true,
  shims: true,
  target: 'node20',
  outDir: 'dist',
});
