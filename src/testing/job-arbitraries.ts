import fc, { type Arbitrary } from 'fast-check';
import type { FailureType } from '../core/events.js';
import { checkOptionBag } from '../internal/options.js';
import type { CancelPolicy, JobOutcome, JobScript, JobStep } from './job-simulator.js';
import { DELIVERY_FAULTS, type DeliveryFault } from './test-backend.js';

/**
 * Options of {@link jobScriptArb}.
 *
 * @example
 * ```ts
 * jobScriptArb({ failureTypes: ['internal', 'exception'], resendTerminal: true } satisfies JobScriptOptions);
 * ```
 */
export interface JobScriptOptions {
  /** The failure types a failing script draws from. @defaultValue every type but `cancelled` */
  readonly failureTypes?: readonly FailureType[] | undefined;
  /** Whether scripts may end with their terminal event sent twice. @defaultValue true */
  readonly resendTerminal?: boolean | undefined;
  /** Whether some scripts never end (they run until cancelled). @defaultValue false */
  readonly unfinished?: boolean | undefined;
  /** At most this many progress and log steps. @defaultValue 4 */
  readonly maxSteps?: number | undefined;
}

const FAILURES: readonly FailureType[] = ['exception', 'oom', 'timeout', 'internal', 'unknown', 'executable_failure'];

/**
 * Jobs as data for `backend.onExport(scriptedJob(script))`: a few progress and log steps with
 * increasing fractions, then success (with a small NDJSON file) or a failure of any type, and
 * now and then the terminal event sent again, as a worker that re-sends its end.
 *
 * @example
 * ```ts
 * fc.assert(fc.asyncProperty(jobScriptArb(), async (script) => {
 *   const backend = createTestBackend();
 *   backend.onExport(scriptedJob(script));
 *   // ... the application starts an export and must end as the script says
 * }));
 * ```
 */
export function jobScriptArb(options?: JobScriptOptions): Arbitrary<JobScript> {
  checkOptionBag('jobScriptArb()', options, ['failureTypes', 'resendTerminal', 'unfinished', 'maxSteps']);
  const listed: unknown = options?.failureTypes ?? FAILURES;
  if (!Array.isArray(listed) || listed.length === 0 || !listed.every((t) => typeof t === 'string')) {
    throw new TypeError(`jobScriptArb(): expected \`failureTypes\` to be a non-empty array of failure types, got ${JSON.stringify(listed)}`);
  }
  const failureTypes = listed as readonly FailureType[];
  const maxSteps = options?.maxSteps ?? 4;
  if (!Number.isSafeInteger(maxSteps) || maxSteps < 0) {
    throw new TypeError(`jobScriptArb(): expected \`maxSteps\` to be a whole number of steps, 0 or more, got ${JSON.stringify(maxSteps)}`);
  }
  const step: Arbitrary<{ log: string } | { message: string | undefined }> = fc.oneof(
    fc.record({ log: fc.string({ maxLength: 20 }) }),
    fc.record({ message: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }) }),
  );
  const steps: Arbitrary<JobStep[]> = fc.array(step, { maxLength: maxSteps }).map((drawn) =>
    // Progress rises through the steps, as a job's does.
    drawn.map((s, i): JobStep => ('log' in s ? { log: s.log } : { progress: (i + 1) / (drawn.length + 1), message: s.message })),
  );
  const outcomes: Arbitrary<JobOutcome | null>[] = [
    fc
      .array(fc.record({ n: fc.nat(1000) }), { maxLength: 3 })
      .map((rows): JobOutcome => ({ succeed: rows.map((r) => `${JSON.stringify({ type: 'Feature', geometry: null, properties: r })}\n`).join('') })),
    fc.constantFrom(...failureTypes).map((type): JobOutcome => ({ fail: type })),
  ];
  if (options?.unfinished === true) outcomes.push(fc.constant(null));
  return fc.record({
    steps,
    outcome: fc.oneof(...outcomes),
    resendTerminal: options?.resendTerminal === false ? fc.constant(false) : fc.boolean(),
  });
}

/**
 * A cancel policy drawn for a simulated job: `'honour'` or `'ignore'`.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(cancelPolicyArb(), (policy) => ['honour', 'ignore'].includes(policy)));
 * ```
 */
export function cancelPolicyArb(): Arbitrary<CancelPolicy> {
  return fc.constantFrom<CancelPolicy>('honour', 'ignore');
}

/**
 * Faults of a live event stream for `createTestBackend({ faults })`: duplicates, delays
 * (reorderings), drops followed by a resync, and cuts, one per delivery, mostly deliveries as
 * sent.
 *
 * @example
 * ```ts
 * fc.assert(fc.asyncProperty(deliveryFaultsArb(), jobScriptArb(), async (faults, script) => {
 *   const backend = createTestBackend({ faults });
 *   backend.onExport(scriptedJob(script));
 *   // ... the application's code must end at the backend's truth
 * }));
 * ```
 */
export function deliveryFaultsArb(options?: { readonly maxLength?: number | undefined }): Arbitrary<DeliveryFault[]> {
  checkOptionBag('deliveryFaultsArb()', options, ['maxLength']);
  const fault = fc.oneof(
    { arbitrary: fc.constant<DeliveryFault>('deliver'), weight: 4 },
    { arbitrary: fc.constantFrom(...DELIVERY_FAULTS.filter((f) => f !== 'deliver')), weight: 3 },
  );
  return fc.array(fault, { maxLength: options?.maxLength ?? 12 });
}
