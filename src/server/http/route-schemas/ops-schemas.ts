import type { FastifySchema } from 'fastify';
import { errorResponses, ref, type JsonSchema } from './components.js';

/** No token needed (an operation's `security`). @internal */
export const PUBLIC: readonly Record<string, never>[] = [];

/** The operations routes. @internal */
export type OpsRoute = 'health' | 'ready' | 'metrics' | 'openapi';

/**
 * The JSON schemas of the operations routes, outside `/vector/v2` and `/storage/v1`; `/metrics`
 * needs the token unless the service runs with `metricsPublic`.
 * @internal
 */
export function opsSchemas(metricsPublic: boolean): Record<OpsRoute, FastifySchema & JsonSchema> {
  return {
    health: {
      summary: 'Whether the process serves',
      tags: ['operations'],
      security: PUBLIC,
      response: {
        200: { description: 'It serves.', type: 'object', required: ['status'], properties: { status: { const: 'ok' } } },
        ...errorResponses(),
      },
    },
    ready: {
      summary: 'Whether the service can take requests: its store and job runner answer',
      tags: ['operations'],
      security: PUBLIC,
      response: {
        200: { description: 'Ready.', ...ref('Readiness') },
        503: { description: 'Not ready (or shutting down): the checks say what is wrong; with `Retry-After`.', ...ref('Readiness') },
      },
    },
    metrics: {
      summary: 'Prometheus metrics',
      description: 'Prometheus text format 0.0.4; every name starts with `export_task_` (docs/server.md lists them).',
      tags: ['operations'],
      ...(metricsPublic ? { security: PUBLIC } : {}),
      response: {
        200: { description: 'The metrics.', content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: { type: 'string' } } } },
        ...errorResponses(401),
      },
    },
    openapi: {
      summary: 'This document',
      tags: ['operations'],
      security: PUBLIC,
      response: {
        200: { description: 'The OpenAPI 3.1 document of every route of the service.', type: 'object', additionalProperties: true },
        ...errorResponses(),
      },
    },
  };
}
