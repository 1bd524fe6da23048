/**
 * The line bench:soak fits to its samples (bench/soak/fit.ts): its verdicts call a heap flat or
 * growing, so its interval has to hold the true slope about 95% of the time, including when the
 * samples are autocorrelated, as a heap sampled every few seconds is.
 */
import { describe, expect, it } from 'vitest';
import { fitLine, verdict } from '../../bench/soak/fit.js';

/** A seeded generator (Park-Miller) and standard normal draws (Box-Muller): the same numbers on every run. */
function normals(seed: number): () => number {
  let state = seed;
  const uniform = (): number => (state = (state * 16_807) % 2_147_483_647) / 2_147_483_647;
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** How often the 95% interval holds the true slope over `trials` series of `n` points with AR(1) noise of coefficient `rho`. */
function coverage(rho: number, n: number, trials: number): { covered: number; plainCovered: number } {
  const gauss = normals(42);
  let covered = 0;
  let plainCovered = 0;
  for (let t = 0; t < trials; t++) {
    let noise = 0;
    const points: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      noise = rho * noise + gauss();
      points.push([i / 10, 20 + 0.5 * (i / 10) + noise]);
    }
    const line = fitLine(points);
    if (line.low <= 0.5 && line.high >= 0.5) covered++;
    // The interval without the correction: half as wide by √((1+ρ)/(1−ρ)), t taken near 1.96.
    const half = ((line.high - line.low) / 2) * Math.sqrt((1 - Math.max(0, line.rho)) / (1 + Math.max(0, line.rho)));
    if (Math.abs(line.slope - 0.5) <= half) plainCovered++;
  }
  return { covered: covered / trials, plainCovered: plainCovered / trials };
}

describe('fitLine', () => {
  it('gives the exact line, r² 1 and a zero-width interval for points on a line', () => {
    expect(fitLine([[0, 1], [1, 3], [2, 5], [3, 7]])).toMatchObject({ slope: 2, low: 2, high: 2, r2: 1, noise: 0 });
  });

  it('holds the true slope about 95% of the time with independent noise', () => {
    expect(coverage(0, 30, 1_000).covered).toBeGreaterThan(0.93);
    expect(coverage(0, 30, 1_000).covered).toBeLessThan(0.98);
  });

  it('widens for autocorrelated noise, where the plain interval would hold the true slope far less often', () => {
    const { covered, plainCovered } = coverage(0.6, 100, 1_000);
    expect(covered).toBeGreaterThan(0.9);
    expect(plainCovered).toBeLessThan(0.8);
  });

  it('says nothing with fewer than three points', () => {
    expect(fitLine([[0, 1], [1, 2]])).toMatchObject({ low: Number.NEGATIVE_INFINITY, high: Number.POSITIVE_INFINITY });
  });
});

describe('verdict', () => {
  const line = (low: number, high: number): ReturnType<typeof fitLine> => ({ n: 10, slope: (low + high) / 2, low, high, r2: 0, noise: 0, rho: 0 });

  it('is flat when the whole interval is under the bound, whether or not it holds 0', () => {
    expect(verdict(line(-0.05, 0.05), 0.1)).toBe('flat');
    expect(verdict(line(0.01, 0.09), 0.1)).toBe('flat');
    expect(verdict(line(-3, -1), 0.1)).toBe('flat');
  });

  it('grows when the interval is above 0 and reaches the bound; is undecided when it holds 0 and reaches the bound', () => {
    expect(verdict(line(0.05, 0.2), 0.1)).toBe('grows');
    expect(verdict(line(-0.5, 0.5), 0.1)).toBe('undecided');
  });
});
