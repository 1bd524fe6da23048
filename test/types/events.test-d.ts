/**
 * Type tests of the wire events (SPEC section 3): a union that narrows by `type`.
 */
import { describe, expectTypeOf, it } from 'vitest';
import { isFinalPhase, parseTaskEvent, TASK_EVENT_TYPES } from '../../src/index.js';
import type {
  CancelRequestedEvent,
  FailedEvent,
  FailureType,
  FinalPhase,
  LogEvent,
  ProgressEvent,
  QueuedEvent,
  SnapshotEvent,
  StartedEvent,
  SucceededEvent,
  TaskEvent,
  TaskEventOf,
  TaskEventType,
  TaskPhase,
  WireAttributes,
} from '../../src/index.js';

declare const event: TaskEvent;

describe('TaskEvent', () => {
  it('is the union of the eight event types', () => {
    expectTypeOf<TaskEventType>().toEqualTypeOf<
      'queued' | 'started' | 'progress' | 'log' | 'succeeded' | 'failed' | 'snapshot' | 'cancel_requested'
    >();
    expectTypeOf(TASK_EVENT_TYPES).toEqualTypeOf<readonly TaskEventType[]>();
    expectTypeOf<TaskEventOf<'failed'>>().toEqualTypeOf<FailedEvent>();
    expectTypeOf<TaskEventOf<'snapshot'>>().toEqualTypeOf<SnapshotEvent>();
    // @ts-expect-error - there is no such event type.
    expectTypeOf<TaskEventOf<'finished'>>().toBeNever();
  });

  it('narrows by `type`, exhaustively', () => {
    switch (event.type) {
      case 'queued':
        expectTypeOf(event).toEqualTypeOf<QueuedEvent>();
        break;
      case 'started':
        expectTypeOf(event).toEqualTypeOf<StartedEvent>();
        // @ts-expect-error - only progress events have a fraction.
        void event.fraction;
        break;
      case 'progress':
        expectTypeOf(event).toEqualTypeOf<ProgressEvent>();
        expectTypeOf(event.fraction).toEqualTypeOf<number>();
        expectTypeOf(event.message).toEqualTypeOf<string | undefined>();
        break;
      case 'log':
        expectTypeOf(event).toEqualTypeOf<LogEvent>();
        expectTypeOf(event.line).toEqualTypeOf<string>();
        break;
      case 'succeeded':
        expectTypeOf(event).toEqualTypeOf<SucceededEvent>();
        expectTypeOf(event.runtime).toEqualTypeOf<number>();
        expectTypeOf(event.labels).toEqualTypeOf<readonly string[]>();
        expectTypeOf(event.sha256).toEqualTypeOf<string>();
        break;
      case 'failed':
        expectTypeOf(event).toEqualTypeOf<FailedEvent>();
        expectTypeOf(event.failure_type).toEqualTypeOf<FailureType | null>();
        expectTypeOf(event.runtime).toEqualTypeOf<number | null>();
        break;
      case 'snapshot':
        expectTypeOf(event).toEqualTypeOf<SnapshotEvent>();
        expectTypeOf(event.phase).toEqualTypeOf<TaskPhase>();
        expectTypeOf(event.attributes).toEqualTypeOf<WireAttributes | null>();
        break;
      case 'cancel_requested':
        expectTypeOf(event).toEqualTypeOf<CancelRequestedEvent>();
        break;
      default:
        expectTypeOf(event).toBeNever();
    }
  });

  it('carries the common fields on every type', () => {
    expectTypeOf(event.product_id).toEqualTypeOf<string>();
    expectTypeOf(event.export_id).toEqualTypeOf<string>();
    expectTypeOf(event.seq).toEqualTypeOf<number>();
    expectTypeOf(event.time).toEqualTypeOf<string>();
    // @ts-expect-error - events are read-only: a fold never edits its input.
    event.seq = 2;
  });

  it('keeps failure types a server invents, while naming the known ones', () => {
    expectTypeOf<'oom'>().toExtend<FailureType>();
    expectTypeOf<'executable_failure'>().toExtend<FailureType>();
    expectTypeOf<'a new one'>().toExtend<FailureType>();
    expectTypeOf<FailureType>().toExtend<string>();
  });
});

describe('parseTaskEvent', () => {
  it('takes anything and answers a TaskEvent', () => {
    expectTypeOf(parseTaskEvent).parameters.toEqualTypeOf<[input: unknown]>();
    expectTypeOf(parseTaskEvent).returns.toEqualTypeOf<TaskEvent>();
  });
});

describe('isFinalPhase', () => {
  it('narrows a phase to a final one', () => {
    const phase = 'running' as TaskPhase;
    if (isFinalPhase(phase)) expectTypeOf(phase).toEqualTypeOf<FinalPhase>();
    else expectTypeOf(phase).toEqualTypeOf<'pending' | 'running'>();
  });
});
