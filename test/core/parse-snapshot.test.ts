import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSnapshot } from '../../src/core/parse-snapshot.js';
import { replay } from '../../src/core/replay.js';
import type { ExportTaskSnapshot } from '../../src/core/snapshot.js';
import { taskHistoryArb } from '../../src/testing/arbitraries.js';

const T0 = '2026-01-01T00:00:00.000Z';

const running: ExportTaskSnapshot = {
  productId: 'roads',
  exportId: 'e1',
  phase: 'running',
  seq: 4,
  progress: 0.5,
  message: 'half',
  log: ['a', 'b'],
  cancelRequested: false,
  created: T0,
  attributes: null,
};

const success: ExportTaskSnapshot = {
  ...running,
  phase: 'success',
  seq: 5,
  progress: 1,
  attributes: {
    status: 'SUCCESS',
    failureType: null,
    exceptionName: null,
    stacktrace: null,
    runtime: 1,
    peakMemoryUsage: 2,
    labels: ['a', 'b', 'c', 'k'],
    key: 'k',
    sizeBytes: 3,
    sha256: 'ab'.repeat(32),
    created: T0,
  },
};

function typeError(input: unknown): TypeError {
  try {
    parseSnapshot(input);
  } catch (error) {
    expect(error).toBeInstanceOf(TypeError);
    return error as TypeError;
  }
  throw new Error('expected parseSnapshot to throw');
}

describe('parseSnapshot', () => {
  it('reads a snapshot, from an object or JSON text', () => {
    expect(parseSnapshot(running)).toEqual(running);
    expect(parseSnapshot(JSON.stringify(success))).toEqual(success);
  });

  it('answers a fresh copy that shares no array with its input', () => {
    const copy = parseSnapshot(running);
    expect(copy).not.toBe(running);
    expect(copy.log).not.toBe(running.log);
  });

  it('reads a progress of -0 (valid JSON) as 0, as the fold would have it', () => {
    // toBe compares with Object.is: -0 fails it.
    expect(parseSnapshot(JSON.stringify(running).replace('"progress":0.5', '"progress":-0')).progress).toBe(0);
    expect(parseSnapshot({ ...running, progress: -0 }).progress).toBe(0);
    expect(parseSnapshot({ ...running, progress: 0 }).progress).toBe(0);
  });

  it('drops unknown fields', () => {
    expect(parseSnapshot({ ...running, extra: 1 })).toEqual(running);
  });

  it('reads back every snapshot a fold gives, after JSON', () => {
    fc.assert(
      fc.property(taskHistoryArb({ order: 'any' }), (history) => {
        const snapshot = replay(history);
        expect(parseSnapshot(JSON.parse(JSON.stringify(snapshot)))).toEqual(snapshot);
        expect(parseSnapshot(JSON.stringify(snapshot))).toEqual(snapshot);
      }),
    );
  });

  it.each<[string, unknown, RegExp]>([
    ['text that is not JSON', '{"phase":', /`snapshot` to be JSON text of a snapshot/],
    ['a number', 5, /`snapshot` to be an object, got 5/],
    ['an array', [], /`snapshot` to be an object/],
    ['an unknown phase', { ...running, phase: 'done' }, /`phase` to be one of "pending", "running", "success", "failure", got "done"/],
    ['a negative seq', { ...running, seq: -1 }, /`seq` to be a non-negative safe integer, got -1/],
    ['a fractional seq', { ...running, seq: 1.5 }, /`seq` to be a non-negative safe integer/],
    ['progress above 1', { ...running, progress: 1.5 }, /`progress` to be a number from 0 to 1, got 1.5/],
    ['a log that is not strings', { ...running, log: ['a', 1] }, /`log` to be an array of strings/],
    ['a missing cancelRequested', { ...running, cancelRequested: undefined }, /`cancelRequested` to be a boolean, got nothing/],
    ['attributes on a running task', { ...running, attributes: success.attributes }, /`attributes` to be null \(the phase is running\)/],
    ['no attributes on a final task', { ...success, attributes: null }, /`attributes` to be an object \(the phase is success\)/],
    ['a status that disagrees with the phase', { ...success, phase: 'failure' }, /`attributes.status` to be the status of a failure/],
    ['a negative runtime', { ...success, attributes: { ...success.attributes, runtime: -1 } }, /`attributes.runtime` to be a non-negative number or null/],
    ['labels that are not strings', { ...success, attributes: { ...success.attributes, labels: [1] } }, /`attributes.labels` to be an array of strings or null/],
    ['a missing exportId', { ...running, exportId: undefined }, /`exportId` to be a string/],
    ['a numeric message', { ...running, message: 3 }, /`message` to be a string or null, got 3/],
    ['null', null, /`snapshot` to be an object, got null/],
    ['a phase that is not a string', { ...running, phase: 1 }, /`phase` to be one of/],
    ['a seq given as text', { ...running, seq: '3' }, /`seq` to be a non-negative safe integer, got "3"/],
    ['progress given as text', { ...running, progress: '0.5' }, /`progress` to be a number from 0 to 1, got "0.5"/],
    ['a negative progress', { ...running, progress: -0.1 }, /`progress` to be a number from 0 to 1, got -0.1/],
    ['attributes that are text', { ...success, attributes: 'SUCCESS' }, /`attributes` to be an object \(the phase is success\), got "SUCCESS"/],
    ['an infinite runtime', { ...success, attributes: { ...success.attributes, runtime: Infinity } }, /`attributes.runtime` to be a non-negative number or null, got Infinity/],
    ['a runtime given as text', { ...success, attributes: { ...success.attributes, runtime: '5' } }, /`attributes.runtime` to be a non-negative number or null, got "5"/],
    ['a numeric failureType', { ...success, attributes: { ...success.attributes, failureType: 1 } }, /`attributes.failureType` to be a string or null, got 1/],
    ['a numeric exceptionName', { ...success, attributes: { ...success.attributes, exceptionName: 1 } }, /`attributes.exceptionName` to be a string or null/],
    ['a numeric stacktrace', { ...success, attributes: { ...success.attributes, stacktrace: 1 } }, /`attributes.stacktrace` to be a string or null/],
    ['a negative peakMemoryUsage', { ...success, attributes: { ...success.attributes, peakMemoryUsage: -1 } }, /`attributes.peakMemoryUsage` to be a non-negative number or null/],
    ['a numeric key', { ...success, attributes: { ...success.attributes, key: 1 } }, /`attributes.key` to be a string or null/],
    ['a negative sizeBytes', { ...success, attributes: { ...success.attributes, sizeBytes: -1 } }, /`attributes.sizeBytes` to be a non-negative number or null/],
    ['a numeric sha256', { ...success, attributes: { ...success.attributes, sha256: 1 } }, /`attributes.sha256` to be a string or null/],
    ['a numeric created in the attributes', { ...success, attributes: { ...success.attributes, created: 1 } }, /`attributes.created` to be a string or null/],
    ['a numeric created', { ...running, created: 1 }, /`created` to be a string or null, got 1/],
  ])('rejects %s with a TypeError naming the field', (_, input, message) => {
    expect(typeError(input).message).toMatch(message);
  });
});
