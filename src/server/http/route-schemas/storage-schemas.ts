import type { FastifySchema } from 'fastify';
import { errorResponses, type JsonSchema } from './components.js';

/**
 * The JSON schemas of the Storage API's routes. Their path ends in a wildcard (a key may hold
 * `/`), which the OpenAPI document names `{key}` or `{result_key}` (`KEY_PARAMS`).
 * @internal
 */

/** What the document calls each wildcard route's rest of the path. @internal */
export const WILDCARD_NAMES: Readonly<Record<string, { readonly name: string; readonly description: string }>> = {
  '/storage/v1/data/get/*': {
    name: 'key',
    description:
      "The file's storage key, each segment URL-encoded; it may hold `/`. Keys with `..`, `.` or empty segments, absolute paths, backslashes or NUL are refused with 400.",
  },
  '/storage/v1/logs/get/*': { name: 'result_key', description: 'The `result_key` of a final export: `{product_id}/{export_id}`.' },
};

const KEY_PARAMS: JsonSchema = { type: 'object', required: ['*'], properties: { '*': { type: 'string', title: 'the storage key' } } };

const FILE_HEADERS = {
  'Content-Length': { type: 'integer', description: "The file's size in bytes." },
  'Content-Type': { type: 'string', description: '`application/octet-stream`.' },
};

/** The schema of each Storage route. @internal */
export const STORAGE_SCHEMAS = {
  getFile: {
    summary: 'Download an exported file',
    tags: ['storage'],
    params: KEY_PARAMS,
    response: {
      200: {
        description: 'The file, streamed.',
        headers: FILE_HEADERS,
        content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } },
      },
      ...errorResponses([400, 'An unsafe key.'], 401, 403, [404, 'No file at the key (a failed or unfinished export has none).']),
    },
  },
  headFile: {
    summary: 'Whether a file is there, and its size',
    tags: ['storage'],
    params: KEY_PARAMS,
    response: {
      200: { description: 'A file is there; no body.', headers: FILE_HEADERS, type: 'null' },
      ...errorResponses([400, 'An unsafe key.'], 401, 403, [404, 'No file at the key.']),
    },
  },
  getLog: {
    summary: "A final export's log",
    tags: ['storage'],
    params: KEY_PARAMS,
    response: {
      200: {
        description: "The log's lines joined by `\\n`.",
        content: { 'text/plain; charset=utf-8': { schema: { type: 'string' } } },
      },
      ...errorResponses(401, 403, [404, 'The export is pending or running, wrote no log, or is unknown; or the key is not `{product_id}/{export_id}`.']),
    },
  },
} satisfies Record<string, FastifySchema & JsonSchema>;
