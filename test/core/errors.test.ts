import { describe, expect, it } from 'vitest';
import { describeValue, InvalidEventError, NoResultError, TimeoutError, TransientResultError } from '../../src/core/errors.js';
import type { ExportTaskSnapshot } from '../../src/core/snapshot.js';

const running: ExportTaskSnapshot = {
  productId: 'roads',
  exportId: 'e1',
  phase: 'running',
  seq: 3,
  progress: 0.456,
  message: null,
  log: [],
  cancelRequested: false,
  created: null,
  attributes: null,
};

describe('TransientResultError', () => {
  it("says what the DL client said by default, and carries no snapshot when there was no task", () => {
    const error = new TransientResultError();
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TransientResultError');
    expect(error.message).toBe('Result not yet ready');
    expect(error.snapshot).toBeUndefined();
  });

  it('carries the given message and snapshot', () => {
    const error = new TransientResultError('export e1 is running', running);
    expect(error.message).toBe('export e1 is running');
    expect(error.snapshot).toBe(running);
  });
});

describe('TimeoutError', () => {
  it('names the timeout, the export, its phase and how far it got', () => {
    const error = new TimeoutError(1500, running);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TimeoutError');
    expect(error.message).toBe('Timeout exceeded: the task was not final after 1500 ms (export e1 was running, 46% done)');
    expect(error.timeout).toBe(1500);
    expect(error.snapshot).toBe(running);
  });

  it('names only the timeout when there is no snapshot', () => {
    const error = new TimeoutError(0);
    expect(error.message).toBe('Timeout exceeded: the task was not final after 0 ms');
    expect(error.timeout).toBe(0);
    expect(error.snapshot).toBeUndefined();
  });
});

describe('NoResultError', () => {
  it('says that export tasks have no result and what to do instead', () => {
    const error = new NoResultError();
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('NoResultError');
    expect(error.message).toBe(
      "Export tasks don't have a result: await task.getResult(), then read its attributes or call getFile()",
    );
  });
});

describe('InvalidEventError', () => {
  it('names the field, what was expected and what came, with the context', () => {
    const error = new InvalidEventError('seq', -1, 'a positive safe integer', ' (type "started")');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('InvalidEventError');
    expect(error.message).toBe('Invalid task event (type "started"): expected `seq` to be a positive safe integer, got -1');
    expect(error.field).toBe('seq');
    expect(error.value).toBe(-1);
    expect(error.expected).toBe('a positive safe integer');
  });

  it('speaks of the event as a whole for the empty field, without a context by default', () => {
    const error = new InvalidEventError('', null, 'a JSON object');
    expect(error.message).toBe('Invalid task event: expected the event to be a JSON object, got null');
    expect(error.field).toBe('');
  });

  it('keeps a string value of up to 200 characters whole, and truncates a longer one', () => {
    const exact = 'x'.repeat(200);
    expect(new InvalidEventError('line', exact, 'short').value).toBe(exact);
    const long = `${'y'.repeat(200)}z`;
    expect(new InvalidEventError('line', long, 'short').value).toBe(`${'y'.repeat(200)}...`);
  });

  it('keeps a value that is not a string as it is', () => {
    const value = { a: 1 };
    expect(new InvalidEventError('attributes', value, 'null').value).toBe(value);
  });
});

describe('describeValue', () => {
  it('says a missing field is missing', () => {
    expect(describeValue(undefined)).toBe('nothing (the field is missing)');
  });

  it('quotes a string of up to 60 characters, and summarises a longer one', () => {
    expect(describeValue('')).toBe('""');
    expect(describeValue('a"b')).toBe('"a\\"b"');
    const sixty = 'a'.repeat(60);
    expect(describeValue(sixty)).toBe(`"${sixty}"`);
    const long = `${'b'.repeat(40)}${'c'.repeat(21)}`;
    expect(describeValue(long)).toBe(`a string of 61 characters ("${'b'.repeat(40)}...")`);
  });

  it('prints numbers, booleans and null as they are', () => {
    expect(describeValue(-5)).toBe('-5');
    expect(describeValue(Number.NaN)).toBe('NaN');
    expect(describeValue(false)).toBe('false');
    expect(describeValue(null)).toBe('null');
  });

  it('says how long an array is, and that an object is one, without printing them', () => {
    expect(describeValue([1, 2, 3])).toBe('an array of 3');
    expect(describeValue([])).toBe('an array of 0');
    expect(describeValue({ secret: 'token' })).toBe('an object');
  });

  it('names the type of anything else', () => {
    expect(describeValue(() => 1)).toBe('function');
    expect(describeValue(10n)).toBe('bigint');
    expect(describeValue(Symbol('s'))).toBe('symbol');
  });
});
