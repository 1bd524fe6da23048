import { STATUS_CODES } from 'node:http';
import { HttpError } from '../../client/http-errors.js';

/** The JSON body of an error answer, as DL's services sent them. @internal */
export interface ErrorBody {
  readonly errors: readonly [{ readonly status: string; readonly title: string; readonly detail: string }];
}

/** An error answer: its status, its body and any header it needs. @internal */
export interface ErrorAnswer {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;
}

/** `{"errors": [{"status", "title", "detail"}]}` for a status and what went wrong. @internal */
export function errorBody(status: number, detail: string): ErrorBody {
  return { errors: [{ status: String(status), title: STATUS_CODES[status] ?? 'Error', detail }] };
}

/**
 * The answer for an error thrown while handling a request: the service's own errors keep
 * their status and message; Fastify's (a body it could not parse, one too large) get the
 * status it gave them and a message saying what to do; storage that refuses writes is 507
 * (full) or 503 (failing, with `Retry-After`); anything else is a 500 whose body says nothing
 * of the service's insides.
 * @internal
 */
export function errorAnswer(error: unknown, bodyLimit: number): ErrorAnswer {
  if (error instanceof HttpError) return { status: error.status, body: errorBody(error.status, error.message), headers: retryAfter(error) };
  const e = error as { code?: unknown; statusCode?: unknown; message?: unknown };
  const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500;
  const message = typeof e.message === 'string' ? e.message : '';
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return answer(413, `The request body is larger than this service's limit of ${bodyLimit} bytes: send less at once (add features in several requests)`);
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return answer(400, `The request body is not valid JSON: ${message}`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return answer(
        415,
        `${message}: this service reads JSON bodies only, sent with \`Content-Type: application/json\` or \`application/vnd.api+json\``,
      );
    case 'FST_ERR_BAD_URL':
      return answer(400, `The URL is malformed (a bad percent-encoding?): ${message}`);
  }
  if (error instanceof SyntaxError) return answer(400, `The request body is not valid JSON: ${message}`);
  const storage = storageStatus(e.code);
  if (storage === 507) {
    return answer(507, 'The export service is out of storage (its disk or database is full): nothing was changed; try again once space is freed');
  }
  if (storage === 503) {
    return {
      ...answer(503, 'The export service cannot write to its storage right now (read-only or failing): nothing was changed; try again later'),
      headers: { 'retry-after': '5' },
    };
  }
  if (status < 500) return answer(status, message || (STATUS_CODES[status] ?? 'Bad request'));
  return answer(500, 'The export service failed while handling this request; its log says why');
}

/** 507 for a full disk or database, 503 for storage that fails otherwise, by the error's code (Node's or SQLite's). */
function storageStatus(code: unknown): 507 | 503 | undefined {
  if (typeof code !== 'string') return undefined;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG' || code === 'SQLITE_FULL') return 507;
  if (code === 'EROFS' || code === 'EIO' || /^SQLITE_(READONLY|IOERR|BUSY|LOCKED|CANTOPEN|CORRUPT|NOTADB)/.test(code)) return 503;
  return undefined;
}

/** `Retry-After` for an error that says when to try again (a 503 while Redis is unreachable). */
function retryAfter(error: HttpError): Record<string, string> {
  const seconds = (error as { retryAfterSeconds?: unknown }).retryAfterSeconds;
  return typeof seconds === 'number' ? { 'retry-after': String(seconds) } : {};
}

function answer(status: number, detail: string): ErrorAnswer {
  return { status, body: errorBody(status, detail), headers: {} };
}
