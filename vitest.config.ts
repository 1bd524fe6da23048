import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // examples/model-based-test imports the package by its name (`export-task/testing`), which
    // resolves to the build: the test command builds first.
    include: ['test/**/*.test.ts', 'examples/model-based-test/**/*.test.ts'],
    setupFiles: ['test/setup/fast-check-seed.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Type tests of the public API (`expectTypeOf`, `// @ts-expect-error - reason`), checked by tsc
    // alongside the tests: `test/types/*.test-d.ts` never run, they only have to type-check.
    typecheck: {
      enabled: true,
      include: ['test/types/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
    coverage: {
      provider: 'v8',
      include: ['machines/**', 'src/core/**'],
      reporter: ['text', 'text-summary', 'json-summary'],
      // `vitest run --coverage` (the test command) fails below these.
      thresholds: {
        'machines/**': { lines: 95, branches: 95 },
        'src/core/**': { lines: 95, branches: 95 },
      },
    },
  },
});
