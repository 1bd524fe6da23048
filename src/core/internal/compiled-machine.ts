import type { AnyStateMachine } from 'xstate';
import { exportTaskMachine, type ExportTaskInput } from '../../../machines/export-task.js';
import type { TaskEvent, TaskEventType, TaskPhase } from '../events.js';
import type { ExportTaskContext } from '../snapshot.js';

/** What the machine's guards and actions are called with. */
export type Args = { context: ExportTaskContext; event: TaskEvent };
type Guard = (args: Args) => boolean;
type Assigner = (args: Args) => Partial<ExportTaskContext>;

/** One candidate transition, resolved to the machine's own guard and assign functions. */
export interface CompiledTransition {
  readonly guard: Guard | undefined;
  /** The target phase, or `undefined` for a transition that stays. */
  readonly target: TaskPhase | undefined;
  readonly assigners: readonly Assigner[];
}

/** `table[phase][eventType]`: the candidates in document order, as XState tries them. */
export type TransitionTable = Readonly<Record<TaskPhase, Readonly<Partial<Record<TaskEventType, readonly CompiledTransition[]>>>>>;

/** Whether a phase is a final state of the machine, read from the machine itself. */
export type FinalTable = Readonly<Record<TaskPhase, boolean>>;

interface Implementations {
  guards: Record<string, unknown>;
  actions: Record<string, unknown>;
}

function resolveGuard(ref: unknown, impl: Implementations, where: string): Guard {
  const name = typeof ref === 'string' ? ref : (ref as { type?: unknown } | undefined)?.type;
  const fn = typeof ref === 'function' ? ref : typeof name === 'string' ? impl.guards[name] : undefined;
  if (typeof fn !== 'function' || 'check' in fn || (typeof ref === 'object' && ref !== null && 'params' in ref)) {
    throw new Error(`${where}: only plain guard functions without params can be compiled; got ${String(name)}`);
  }
  return fn as Guard;
}

function resolveAssigner(ref: unknown, impl: Implementations, where: string): Assigner {
  const name = typeof ref === 'string' ? ref : (ref as { type?: unknown } | undefined)?.type;
  // XState passes `params` as the assigner's second argument, which the compiled table does not.
  if (typeof ref === 'object' && ref !== null && 'params' in ref) {
    throw new Error(`${where}: action ${String(name)} has params, which cannot be compiled; read what it needs from the context or the event instead`);
  }
  const action = typeof ref === 'function' ? ref : typeof name === 'string' ? impl.actions[name] : undefined;
  const assignment = (action as { type?: unknown; assignment?: unknown } | undefined)?.assignment;
  if ((action as { type?: unknown } | undefined)?.type !== 'xstate.assign' || assignment === undefined) {
    throw new Error(`${where}: only assign() actions can be compiled; got ${String(name)}`);
  }
  if (typeof assignment === 'function') return assignment as Assigner;
  // A property map: each value is a constant or a function of the args, as in XState's resolveAssign.
  const entries = Object.entries(assignment as Record<string, unknown>);
  return (args) => {
    const partial: Record<string, unknown> = {};
    for (const [key, value] of entries) partial[key] = typeof value === 'function' ? (value as Assigner)(args) : value;
    return partial;
  };
}

/**
 * Compiles a flat machine's transitions into a lookup table that calls the machine's own
 * guards and assign actions. It accepts only what it can execute exactly as XState would
 * (flat states, plain guards, assign actions, no entry/exit/always/after); anything else throws
 * here, at load time, rather than silently diverging from XState.
 */
export function compileMachine(machine: AnyStateMachine): { table: TransitionTable; final: FinalTable; initial: TaskPhase } {
  const impl = machine.implementations as unknown as Implementations;
  const table: Record<string, Record<string, CompiledTransition[]>> = {};
  const final: Record<string, boolean> = {};
  const root = machine.root;
  // What the root does happens in every state; the table only holds the states' own transitions.
  if (root.type !== 'compound') throw new Error(`${machine.id}: only a machine of flat, exclusive states can be compiled; its root is ${root.type}`);
  if (root.entry.length > 0 || root.exit.length > 0 || root.transitions.size > 0 || root.always || root.after.length > 0 || root.invoke.length > 0) {
    throw new Error(`${machine.id}: root-level transitions, entry/exit actions, always, after and invoke cannot be compiled`);
  }
  for (const [phase, node] of Object.entries(root.states)) {
    const where = `${machine.id}.${phase}`;
    if (
      Object.keys(node.states).length > 0 ||
      node.entry.length > 0 ||
      node.exit.length > 0 ||
      node.always ||
      node.after.length > 0 ||
      node.invoke.length > 0
    ) {
      throw new Error(`${where}: nested states, entry/exit actions, always, after and invoke cannot be compiled`);
    }
    if (node.type !== 'atomic' && node.type !== 'final') throw new Error(`${where}: a ${node.type} state cannot be compiled`);
    final[phase] = node.type === 'final';
    const row: Record<string, CompiledTransition[]> = {};
    for (const [eventType, transitions] of node.transitions) {
      // The table is looked up by the event's exact type, so a wildcard would be skipped.
      if (eventType.includes('*')) throw new Error(`${where}: wildcard event descriptors ("${eventType}") cannot be compiled`);
      row[eventType] = transitions.map((t) => {
        const targets = t.target ?? [];
        if (targets.length > 1 || t.reenter) throw new Error(`${where}.${eventType}: only one target, no reentry`);
        return {
          guard: t.guard === undefined ? undefined : resolveGuard(t.guard, impl, `${where}.${eventType}`),
          target: targets[0]?.key as TaskPhase | undefined,
          assigners: t.actions.map((a) => resolveAssigner(a, impl, `${where}.${eventType}`)),
        };
      });
    }
    table[phase] = row;
  }
  // XState itself refuses a compound state without an initial one, so the root has it.
  const initial = machine.root.initial.target[0]!.key as TaskPhase;
  return { table: table as unknown as TransitionTable, final: final as FinalTable, initial };
}

const compiled = compileMachine(exportTaskMachine);
const contextFactory = exportTaskMachine.config.context as unknown as (args: { input: ExportTaskInput }) => ExportTaskContext;

/** The machine's own initial context for a task. */
export function initialContext(input: ExportTaskInput): ExportTaskContext {
  return contextFactory({ input });
}

/** The machine's transitions by phase and event type. */
export const TRANSITIONS: TransitionTable = compiled.table;
/** Which phases are final, per the machine. */
export const FINAL: FinalTable = compiled.final;
/** The machine's initial phase. */
export const INITIAL_PHASE: TaskPhase = compiled.initial;

/**
 * One macrostep of the machine, without an actor, is these two: the first enabled transition
 * for the event, as XState picks it (a final phase absorbs), then its assign actions in order on
 * the context (`advance` does both for a snapshot).
 */
export function enabledTransition(phase: TaskPhase, args: Args): CompiledTransition | undefined {
  if (FINAL[phase]) return undefined;
  const candidates = TRANSITIONS[phase][args.event.type];
  if (candidates === undefined) return undefined;
  for (const transition of candidates) if (transition.guard === undefined || transition.guard(args)) return transition;
  return undefined;
}

/**
 * Runs a transition's assign actions in order on `args.context` and answers the new context
 * (the same object when there are none). With `owned`, the caller gives up the context (nobody
 * else holds it) and it takes the assignments in place: the same fields and values as the
 * copy XState makes, without the copy.
 */
export function assignAll<TContext extends ExportTaskContext>(transition: CompiledTransition, args: Args, owned: boolean): TContext {
  let next = args.context as TContext;
  for (const assigner of transition.assigners) {
    args.context = next;
    next = owned ? Object.assign(next, assigner(args)) : { ...next, ...assigner(args) };
  }
  return next;
}
