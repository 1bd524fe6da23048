/** What one run measures: the sizes, and how many rounds each size gets. */
export interface Plan {
  readonly sizes: readonly number[];
  readonly quick: boolean;
  /** Rounds (after a warm-up round) of a case at size N; the median counts. */
  rounds(n: number): number;
  /** Rounds of the alternatives (an actor per task, ...), which are much slower. */
  alternativeRounds(n: number): number;
  /** Fresh inputs of N tasks one round runs, so that a round of few tasks lasts long enough. */
  repeat(n: number): number;
  /** Progress lines while the bench runs. */
  log(message: string): void;
}

/** A short pass at the smallest size, whose results are dropped: it lets the JIT settle first. */
export function warmUpPlan(): Plan {
  return { sizes: [1000], quick: true, rounds: () => 6, alternativeRounds: () => 1, repeat: () => 5, log: () => undefined };
}

export function createPlan(quick: boolean, log: (message: string) => void): Plan {
  return {
    sizes: quick ? [1000, 10_000] : [1000, 10_000, 100_000],
    quick,
    rounds: (n) => (n <= 1000 ? 15 : n <= 10_000 ? 7 : 3),
    // At 100,000 tasks an actor per task takes seconds a round: timed once, the JIT warm from
    // the smaller sizes.
    alternativeRounds: (n) => (n <= 1000 ? 5 : n <= 10_000 ? 3 : 1),
    repeat: (n) => Math.max(1, Math.round(10_000 / n)),
    log,
  };
}
