import fc from 'fast-check';
import { assign, createMachine, fromPromise, not, raise, setup, transition, type AnyStateMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { exportTaskMachine } from '../../../machines/export-task.js';
import type { TaskPhase } from '../../../src/core/events.js';
import {
  FINAL,
  INITIAL_PHASE,
  TRANSITIONS,
  compileMachine,
  initialContext,
} from '../../../src/core/internal/compiled-machine.js';
import { advance } from '../../../src/core/internal/advance.js';
import type { ExportTaskContext } from '../../../src/core/snapshot.js';
import { taskEventArb } from '../../../src/testing/arbitraries.js';

const PHASES: readonly TaskPhase[] = ['pending', 'running', 'success', 'failure'];

describe('compileMachine', () => {
  it('reads the export task machine: initial phase, final phases, one row per state', () => {
    const { table, final, initial } = compileMachine(exportTaskMachine);
    expect(initial).toBe('pending');
    expect(final).toEqual({ pending: false, running: false, success: true, failure: true });
    expect(Object.keys(table).sort()).toEqual([...PHASES].sort());
    expect(Object.keys(table.success)).toEqual([]);
    expect(Object.keys(table.pending).sort()).toEqual(['cancel_requested', 'failed', 'log', 'progress', 'queued', 'snapshot', 'started', 'succeeded']);
    expect(table.pending.snapshot).toHaveLength(4);
    expect(table.running.snapshot?.map((t) => t.target)).toEqual(['success', 'failure', undefined]);
    expect(INITIAL_PHASE).toBe('pending');
    expect(FINAL).toEqual(final);
    expect(TRANSITIONS.running.queued).toBeUndefined();
  });

  it('compiles a flat machine of plain guards and assign actions, named or inline', () => {
    const machine = setup({
      types: { context: {} as { n: number }, events: {} as { type: 'inc' } | { type: 'stop' } },
      guards: { small: ({ context }) => context.n < 2 },
      actions: { inc: assign(({ context }) => ({ n: context.n + 1 })) },
    }).createMachine({
      id: 'counter',
      initial: 'a',
      context: { n: 0 },
      states: {
        a: { on: { inc: [{ guard: 'small', actions: ['inc', assign({ n: ({ context }) => context.n + 10 })] }, { target: 'b' }], stop: 'b' } },
        b: { type: 'final' },
      },
    });
    const { table, final, initial } = compileMachine(machine);
    expect(initial).toBe('a');
    expect(final).toEqual({ a: false, b: true });
    // The table is typed for the export task machine; this one has other states and events.
    const row = (table as unknown as Record<string, Record<string, (typeof table.pending)['log']>>)['a']!;
    expect(row['inc']?.map((t) => [t.guard !== undefined, t.target, t.assigners.length])).toEqual([
      [true, undefined, 2],
      [false, 'b', 0],
    ]);
    const [inc] = row['inc']!;
    const args = { context: { n: 1 } as unknown as ExportTaskContext, event: { type: 'inc' } as never };
    expect(inc!.guard!(args)).toBe(true);
    expect(inc!.assigners.map((a) => a(args))).toEqual([{ n: 2 }, { n: 11 }]);
  });

  it('compiles guards and actions given as objects or inline functions, as XState runs them', () => {
    const machine = setup({
      types: { context: {} as { n: number }, events: {} as { type: 'inc' } },
      guards: { small: ({ context }) => context.n < 2 },
      actions: { inc: assign(({ context }) => ({ n: context.n + 1 })) },
    }).createMachine({
      id: 'objects',
      initial: 'a',
      context: { n: 0 },
      states: {
        a: {
          on: {
            inc: [
              { guard: { type: 'small' }, actions: { type: 'inc' } },
              { guard: ({ context }) => context.n < 5, actions: [{ type: 'inc' }, { type: 'inc' }] },
              { target: 'b' },
            ],
          },
        },
        b: { type: 'final' },
      },
    });
    const row = (compileMachine(machine).table as unknown as Record<string, Record<string, (typeof TRANSITIONS.pending)['log']>>)['a']!;
    const candidates = row['inc']!;
    expect(candidates.map((t) => [t.guard !== undefined, t.target, t.assigners.length])).toEqual([
      [true, undefined, 1],
      [true, undefined, 2],
      [false, 'b', 0],
    ]);
    const args = (n: number) => ({ context: { n } as unknown as ExportTaskContext, event: { type: 'inc' } as never });
    expect(candidates.map((t) => t.guard?.(args(1)))).toEqual([true, true, undefined]);
    expect(candidates.map((t) => t.guard?.(args(3)))).toEqual([false, true, undefined]);
    expect(candidates[0]!.assigners[0]!(args(1))).toEqual({ n: 2 });
  });

  const context = { n: 0 };
  it.each<[string, () => AnyStateMachine, RegExp]>([
    [
      'an entry action',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { entry: assign({ n: 1 }) } } }),
      /m\.a: nested states, entry\/exit actions, always, after and invoke cannot be compiled/,
    ],
    ['an exit action', () => createMachine({ id: 'm', context, initial: 'a', states: { a: { exit: assign({ n: 1 }) } } }), /m\.a: .*entry\/exit actions/],
    [
      'a non-assign action (named)',
      () =>
        setup({ actions: { notify: () => undefined } }).createMachine({ id: 'm', context, initial: 'a', states: { a: { on: { go: { actions: 'notify' } } } } }),
      /m\.a\.go: only assign\(\) actions can be compiled; got notify/,
    ],
    [
      'a non-assign action (inline function)',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { on: { go: { actions: () => undefined } } } } }),
      /m\.a\.go: only assign\(\) actions can be compiled/,
    ],
    [
      'a raise action',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { on: { go: { actions: raise({ type: 'again' }) } } } } }),
      /only assign\(\) actions can be compiled/,
    ],
    [
      'nested states',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { initial: 'x', states: { x: {} } } } }),
      /m\.a: nested states/,
    ],
    ['an always transition', () => createMachine({ id: 'm', context, initial: 'a', states: { a: { always: 'b' }, b: {} } }), /always/],
    ['an after transition', () => createMachine({ id: 'm', context, initial: 'a', states: { a: { after: { 100: 'b' } }, b: {} } }), /after/],
    [
      'an invoked actor',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { invoke: { src: fromPromise(() => Promise.resolve(1)) } } } }),
      /invoke/,
    ],
    [
      'a root-level transition',
      () => createMachine({ id: 'm', context, initial: 'a', on: { go: { actions: assign({ n: 1 }) } }, states: { a: {} } }),
      /m: root-level transitions/,
    ],
    ['a root entry action', () => createMachine({ id: 'm', context, initial: 'a', entry: assign({ n: 1 }), states: { a: {} } }), /m: root-level/],
    ['a parallel root', () => createMachine({ id: 'm', context, type: 'parallel', states: { a: {}, b: {} } }), /m: only a machine of flat, exclusive states/],
    [
      'a wildcard transition',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { on: { '*': { actions: assign({ n: 1 }) } } } } }),
      /m\.a: wildcard event descriptors \("\*"\) cannot be compiled/,
    ],
    ['a history state', () => createMachine({ id: 'm', context, initial: 'a', states: { a: { on: { back: 'h' } }, h: { type: 'history' } } }), /m\.h: a history state/],
    [
      'a reentering transition',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { on: { go: { target: 'a', reenter: true } } } } }),
      /m\.a\.go: only one target, no reentry/,
    ],
    [
      'a guard with params',
      () =>
        setup({ guards: { over: (_, params: { n: number }) => params.n > 1 } }).createMachine({
          id: 'm',
          context,
          initial: 'a',
          states: { a: { on: { go: { guard: { type: 'over', params: { n: 2 } }, target: 'b' } } }, b: {} },
        }),
      /m\.a\.go: only plain guard functions without params can be compiled/,
    ],
    [
      // Issue: it compiled, then threw "Cannot read properties of undefined (reading 'by')" when
      // the event came, where XState gives n = 5.
      'an action with params',
      () =>
        setup({
          types: { context: {} as { n: number } },
          actions: { add: assign(({ context }, params: { by: number }) => ({ n: context.n + params.by })) },
        }).createMachine({
          id: 'm',
          context: { n: 0 },
          initial: 'a',
          states: { a: { on: { go: { actions: { type: 'add', params: { by: 5 } } } } } },
        }),
      /m\.a\.go: action add has params, which cannot be compiled/,
    ],
    [
      'an inline action with params, in an entry-less state among others',
      () =>
        setup({ actions: { add: assign({ n: 1 }) } }).createMachine({
          id: 'm',
          context,
          initial: 'a',
          states: { a: { on: { go: { actions: ['add', { type: 'add', params: () => ({}) }] } } } },
        }),
      /m\.a\.go: action add has params/,
    ],
    [
      'two targets',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { on: { go: { target: ['b', 'c'] } } }, b: {}, c: {} } }),
      /m\.a\.go: only one target, no reentry/,
    ],
    [
      'a named action it does not implement',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { on: { go: { actions: 'missing' } } } } }),
      /m\.a\.go: only assign\(\) actions can be compiled; got missing/,
    ],
    [
      'a named guard it does not implement',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { on: { go: { guard: 'missing', target: 'a' } } } } }),
      /m\.a\.go: only plain guard functions without params can be compiled; got missing/,
    ],
    [
      'a higher-order guard (not)',
      () =>
        setup({ guards: { small: () => true } }).createMachine({
          id: 'm',
          context,
          initial: 'a',
          states: { a: { on: { go: { guard: not('small'), target: 'a' } } } },
        }),
      /m\.a\.go: only plain guard functions without params can be compiled/,
    ],
    [
      // XState takes a null guard as no guard; the compiler refuses it with its own message
      // rather than failing on a property of null.
      'a null guard',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { on: { go: { guard: null as never, target: 'a' } } } } }),
      /m\.a\.go: only plain guard functions without params can be compiled; got undefined/,
    ],
    [
      // XState fails on it only when the event comes; the compiler says so at load time.
      'an undefined action',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { on: { go: { actions: [undefined as never] } } } } }),
      /m\.a\.go: only assign\(\) actions can be compiled; got undefined/,
    ],
    [
      'an assign() without an assignment',
      () => createMachine({ id: 'm', context, initial: 'a', states: { a: { on: { go: { actions: assign(undefined as never) } } } } }),
      /m\.a\.go: only assign\(\) actions can be compiled/,
    ],
    [
      // XState runs it as a plain action and assigns nothing; compiling it as an assign would diverge.
      'a plain action that carries an `assignment` property',
      () =>
        createMachine({
          id: 'm',
          context,
          initial: 'a',
          states: { a: { on: { go: { actions: Object.assign(() => undefined, { assignment: { n: 1 } }) } } } },
        }),
      /m\.a\.go: only assign\(\) actions can be compiled/,
    ],
    ['a root exit action', () => createMachine({ id: 'm', context, initial: 'a', exit: assign({ n: 1 }), states: { a: {} } }), /m: root-level/],
    ['a root invoke', () => createMachine({ id: 'm', context, initial: 'a', invoke: { src: fromPromise(() => Promise.resolve(1)) }, states: { a: {} } }), /m: root-level/],
  ])('rejects a machine with %s, saying why', (_, make, message) => {
    const machine = make();
    expect(() => compileMachine(machine)).toThrow(message);
  });
});

describe('initialContext', () => {
  it("is the machine's own initial context", () => {
    expect(initialContext({ productId: 'roads', exportId: 'e1' })).toEqual({
      productId: 'roads',
      exportId: 'e1',
      progress: 0,
      message: null,
      log: [],
      cancelRequested: false,
      created: null,
      attributes: null,
    });
  });
});

describe('advance', () => {
  const input = { productId: 'p', exportId: 'e' };
  const queued = { type: 'queued', product_id: 'p', export_id: 'e', seq: 1, time: '2026-01-01T00:00:00Z' } as const;

  it('answers a final snapshot as it is, without a copy, for any event', () => {
    for (const phase of ['success', 'failure'] as const) {
      for (const owned of [false, true]) {
        const snapshot = { ...initialContext(input), phase, seq: 3 };
        const before = structuredClone(snapshot);
        expect(advance(snapshot, { ...queued, seq: 4 }, owned)).toBe(snapshot);
        expect(snapshot).toEqual(before);
      }
    }
  });

  it('only moves seq for an event a phase not final does not handle, on a copy unless owned', () => {
    const snapshot = { ...initialContext(input), phase: 'running' as const, seq: 0 };
    const copy = advance(snapshot, queued, false);
    expect(copy).toEqual({ ...snapshot, seq: 1 });
    expect(copy).not.toBe(snapshot);
    expect(snapshot.seq).toBe(0);
    expect(advance(snapshot, queued, true)).toBe(snapshot);
    expect(snapshot.seq).toBe(1);
  });

  it('makes a new snapshot for a transition without actions (started), unless it owns the one given', () => {
    const snapshot = { ...initialContext(input), phase: 'pending' as const, seq: 1 };
    const started = { type: 'started', product_id: 'p', export_id: 'e', seq: 2, time: '2026-01-01T00:00:00Z' } as const;
    const next = advance(snapshot, started, false);
    expect(next).toEqual({ ...snapshot, phase: 'running', seq: 2 });
    expect(snapshot).toMatchObject({ phase: 'pending', seq: 1 });
    expect(advance(snapshot, started, true)).toBe(snapshot);
    expect(snapshot).toMatchObject({ phase: 'running', seq: 2 });
  });

  it('leaves the snapshot it was given as it was, unless it owns it', () => {
    const snapshot = { ...initialContext(input), phase: 'running' as const, seq: 4 };
    const log = { type: 'log', product_id: 'p', export_id: 'e', seq: 5, time: '2026-01-01T00:00:00Z', line: 'x' } as const;
    expect(advance(snapshot, log, false)).toMatchObject({ phase: 'running', seq: 5, log: ['x'] });
    expect(snapshot).toMatchObject({ seq: 4, log: [] });
    expect(advance(snapshot, log, true)).toBe(snapshot);
    expect(snapshot).toMatchObject({ seq: 5, log: ['x'] });
  });

  it("agrees with XState's transition() for any phase, context and event, on a copy and in place", () => {
    const contextArb = fc.record({
      productId: fc.constant('p'),
      exportId: fc.constant('e'),
      progress: fc.double({ min: 0, max: 1, noNaN: true }).map((x) => x + 0),
      message: fc.option(fc.string({ maxLength: 5 })),
      log: fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
      cancelRequested: fc.boolean(),
      created: fc.option(fc.constant('2026-01-01T00:00:00.000Z')),
      attributes: fc.constant(null),
    });
    fc.assert(
      fc.property(fc.constantFrom(...PHASES), contextArb, taskEventArb({ productId: 'p', exportId: 'e' }), fc.boolean(), (phase, context, event, owned) => {
        const [next] = transition(exportTaskMachine, exportTaskMachine.resolveState({ value: phase, context }), event);
        const given = { ...context, phase, seq: 0 };
        const before = structuredClone(given);
        const result = advance(given, event, owned);
        const { phase: phaseAfter, seq, ...contextAfter } = result;
        expect(phaseAfter).toBe(next.value);
        expect(contextAfter).toEqual(next.context);
        // A final snapshot never changes, not even its seq; before that, seq follows the events.
        const final = phase === 'success' || phase === 'failure';
        expect(seq).toBe(final ? 0 : event.seq);
        if (final) expect(result).toBe(given);
        if (!owned) expect(given).toEqual(before);
      }),
    );
  });
});

