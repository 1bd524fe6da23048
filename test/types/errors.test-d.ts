/**
 * Type tests of the error classes (SPEC section 4): literal `name`s and structured payloads, so
 * that `error.name` narrows a union of them.
 */
import { describe, expectTypeOf, it } from 'vitest';
import { NoResultError, TimeoutError } from '../../src/index.js';
import type {
  BadRequestError,
  ConflictError,
  DownloadVerificationError,
  GatewayTimeoutError,
  HttpError,
  InvalidEventError,
  NotFoundError,
  RateLimitError,
  ServerError,
  TransientResultError,
  UnauthorizedError,
} from '../../src/index.js';
import type { ExportTaskSnapshot } from '../../src/index.js';

describe('error classes', () => {
  it('have literal names', () => {
    expectTypeOf<TransientResultError['name']>().toEqualTypeOf<'TransientResultError'>();
    expectTypeOf<TimeoutError['name']>().toEqualTypeOf<'TimeoutError'>();
    expectTypeOf<NoResultError['name']>().toEqualTypeOf<'NoResultError'>();
    expectTypeOf<InvalidEventError['name']>().toEqualTypeOf<'InvalidEventError'>();
    expectTypeOf<DownloadVerificationError['name']>().toEqualTypeOf<'DownloadVerificationError'>();
    expectTypeOf<BadRequestError['name']>().toEqualTypeOf<'BadRequestError'>();
    expectTypeOf<UnauthorizedError['name']>().toEqualTypeOf<'UnauthorizedError'>();
    expectTypeOf<NotFoundError['name']>().toEqualTypeOf<'NotFoundError'>();
    expectTypeOf<ConflictError['name']>().toEqualTypeOf<'ConflictError'>();
    expectTypeOf<RateLimitError['name']>().toEqualTypeOf<'RateLimitError'>();
    expectTypeOf<ServerError['name']>().toEqualTypeOf<'ServerError'>();
    expectTypeOf<GatewayTimeoutError['name']>().toEqualTypeOf<'GatewayTimeoutError'>();
  });

  it('narrow a union by name', () => {
    const error = new TimeoutError(10) as TimeoutError | TransientResultError | NoResultError;
    if (error.name === 'TimeoutError') expectTypeOf(error).toEqualTypeOf<TimeoutError>();
    else expectTypeOf(error).toEqualTypeOf<TransientResultError | NoResultError>();
  });

  it('carry what a handler needs', () => {
    expectTypeOf<TimeoutError['snapshot']>().toEqualTypeOf<ExportTaskSnapshot | undefined>();
    expectTypeOf<TimeoutError['timeout']>().toEqualTypeOf<number>();
    expectTypeOf<TransientResultError['snapshot']>().toEqualTypeOf<ExportTaskSnapshot | undefined>();
    expectTypeOf<InvalidEventError['field']>().toEqualTypeOf<string>();
    expectTypeOf<InvalidEventError['value']>().toEqualTypeOf<unknown>();
    expectTypeOf<InvalidEventError['expected']>().toEqualTypeOf<string>();
    expectTypeOf<HttpError['status']>().toEqualTypeOf<number>();
    expectTypeOf<RateLimitError['retryAfter']>().toEqualTypeOf<number | undefined>();
  });

  it('form the HTTP family under HttpError, all of them Errors', () => {
    expectTypeOf<BadRequestError>().toExtend<HttpError>();
    expectTypeOf<UnauthorizedError>().toExtend<HttpError>();
    expectTypeOf<NotFoundError>().toExtend<HttpError>();
    expectTypeOf<ConflictError>().toExtend<HttpError>();
    expectTypeOf<RateLimitError>().toExtend<HttpError>();
    expectTypeOf<ServerError>().toExtend<HttpError>();
    expectTypeOf<GatewayTimeoutError>().toExtend<HttpError>();
    expectTypeOf<HttpError>().toExtend<Error>();
    expectTypeOf<TimeoutError>().toExtend<Error>();
    expectTypeOf<InvalidEventError>().toExtend<Error>();
  });

  it('keep their names read-only', () => {
    const error = new NoResultError();
    // @ts-expect-error - the name identifies the class; it cannot be reassigned.
    error.name = 'Error';
  });
});
