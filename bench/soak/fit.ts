/**
 * A line fitted to a soak's samples: the slope by least squares, its r², and a 95% interval
 * that accounts for the samples not being independent (a heap sampled every few seconds carries
 * its last GC's leftovers into the next sample).
 *
 * The interval is the ordinary least-squares one widened for the lag-1 autocorrelation ρ of the
 * residuals: the slope's standard error is multiplied by √((1+ρ)/(1−ρ)) and Student's t is taken
 * at the effective number of samples n(1−ρ)/(1+ρ) less 2 (an AR(1) correction; with ρ ≤ 0 it
 * is the plain interval).
 */

export interface Fit {
  /** Samples fitted. */
  readonly n: number;
  /** Units of y per unit of x. */
  readonly slope: number;
  /** 95% interval of the slope. */
  readonly low: number;
  readonly high: number;
  /** Share of y's variance the line explains (0 when y does not vary). */
  readonly r2: number;
  /** Standard deviation of the residuals: the noise band around the line, in units of y. */
  readonly noise: number;
  /** Lag-1 autocorrelation of the residuals. */
  readonly rho: number;
}

/** Two-sided 95% quantiles of Student's t, by degrees of freedom (1 to 30, then 40, 60, 120). */
const T95: readonly number[] = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074,
  2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

function t95(df: number): number {
  if (df < 1) return Number.POSITIVE_INFINITY;
  if (df <= 30) return T95[Math.floor(df) - 1]!;
  if (df <= 40) return 2.021;
  if (df <= 60) return 2.0;
  if (df <= 120) return 1.98;
  return 1.96;
}

export function fitLine(points: readonly (readonly [number, number])[]): Fit {
  const n = points.length;
  if (n < 3) return { n, slope: 0, low: Number.NEGATIVE_INFINITY, high: Number.POSITIVE_INFINITY, r2: 0, noise: 0, rho: 0 };
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const [x, y] of points) {
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  }
  if (sxx === 0) return { n, slope: 0, low: Number.NEGATIVE_INFINITY, high: Number.POSITIVE_INFINITY, r2: 0, noise: 0, rho: 0 };
  const slope = sxy / sxx;
  const residuals = points.map(([x, y]) => y - my - slope * (x - mx));
  const ssr = residuals.reduce((s, e) => s + e * e, 0);
  if (ssr === 0) return { n, slope, low: slope, high: slope, r2: syy === 0 ? 0 : 1, noise: 0, rho: 0 };
  let lagged = 0;
  for (let i = 1; i < n; i++) lagged += residuals[i]! * residuals[i - 1]!;
  const rho = Math.min(0.99, lagged / ssr);
  const inflation = rho > 0 ? (1 + rho) / (1 - rho) : 1;
  const se = Math.sqrt(ssr / (n - 2) / sxx) * Math.sqrt(inflation);
  const half = t95(n / inflation - 2) * se;
  return { n, slope, low: slope - half, high: slope + half, r2: syy === 0 ? 0 : 1 - ssr / syy, noise: Math.sqrt(ssr / (n - 2)), rho };
}

/** What a fitted growth says against the largest growth that would not matter (`bound`, in the slope's units). */
export type Verdict = 'flat' | 'grows' | 'undecided';

/**
 * `flat`: the whole interval is under `bound` (it may include 0); `grows`: the interval is above
 * 0 and reaches past `bound`; `undecided`: the interval includes 0 and reaches past `bound`, too
 * noisy to tell (a longer run narrows it).
 */
export function verdict(line: Fit, bound: number): Verdict {
  if (line.high < bound) return 'flat';
  return line.low > 0 ? 'grows' : 'undecided';
}
