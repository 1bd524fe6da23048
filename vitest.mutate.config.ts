import { defineConfig } from 'vitest/config';

const isStatic = process.env['MUTATE_STATIC'] === '1';

/**
 * The tests Stryker runs against each mutant of `machines/` and `src/core/` (`npm run mutate`):
 * only the core's and the machine's own tests, which are fast and need no service. Without
 * typecheck and coverage, which Stryker replaces with its own per-test coverage.
 */
export default defineConfig({
  test: {
    // A static mutant (in the machine's definition, or a table of constants) runs every test
    // file with fresh modules, about a minute per mutant on 2 cores with the whole core's suite.
    // The statechart's own tests take every transition with explicit expectations, and the
    // parsers' tests every constant; those are the tests of the static run.
    include: isStatic
      ? [
          'test/machines/**/*.test.ts',
          // Loads every module inside a test: a mutant that makes a module throw while loading
          // fails a test there, where elsewhere it only fails a file, which Stryker does not count.
          'test/core/modules.test.ts',
          'test/core/internal/compiled-machine.test.ts',
          'test/core/internal/deadline-queue.test.ts',
          // The system clock's object and functions (`systemClock`), made when `clock.ts` loads.
          'test/core/clock.test.ts',
          'test/core/parse-task-event.test.ts',
          'test/core/parse-snapshot.test.ts',
          'test/core/events.test.ts',
        ]
      : ['test/core/**/*.test.ts', 'test/machines/**/*.test.ts'],
    setupFiles: ['test/setup/fast-check-seed.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // One module graph for every test file of a run: Stryker switches mutants at run time, so
    // there is nothing to reload, and re-importing xstate, rxjs and fast-check for each file
    // would take most of the time. Static mutants (in code that runs when a module loads, such
    // as the machine's definition) need fresh modules: `npm run mutate:static` sets MUTATE_STATIC.
    isolate: isStatic,
    // Few, reproducible property runs: each mutant runs the tests that cover it, and a mutant
    // must be killed (or survive) the same way on every run. `FC_RUNS_MUTATE` / `FC_SEED` override.
    env: {
      FC_RUNS: process.env['FC_RUNS_MUTATE'] ?? '100',
      FC_SEED: process.env['FC_SEED'] ?? '20260101',
    },
  },
});
