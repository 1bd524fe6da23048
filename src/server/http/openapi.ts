import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { JSON_TYPES } from './json-types.js';
import { SHARED_SCHEMAS, type JsonSchema } from './route-schemas/components.js';
import { WILDCARD_NAMES } from './route-schemas/storage-schemas.js';
import { FEATURES_BODY } from './route-schemas/vector-schemas.js';

/** Where the service answers its OpenAPI document. @internal */
export const OPENAPI_PATH = '/openapi.json';

/** Bodies the document shows that Fastify does not validate (they are checked elsewhere), by route. */
const DOCUMENTED_BODIES: Readonly<Record<string, JsonSchema>> = {
  // The upload stays raw bytes on the main thread; the product store's worker parses and checks it.
  'POST /vector/v2/products/:product_id/features': FEATURES_BODY,
};

const DESCRIPTION = `The reference export service of [export-task](https://www.npmjs.com/package/export-task): the Vector API (DL-compatible, under \`/vector/v2\`), the Storage API (under \`/storage/v1\`), and the operations routes. Bodies are JSON (\`application/json\` or \`application/vnd.api+json\`, parameters allowed; anything else is 415); every error answer has the body \`{"errors": [{"status", "title", "detail"}]}\`; every answer carries an \`X-Request-Id\`. The protocol, with what the schemas cannot say (event streams, resumes, limits), is docs/http-protocol.md.`;

/**
 * Registers the shared schemas and `@fastify/swagger`, which builds the OpenAPI 3.1 document
 * from the routes' schemas as they are declared: register it before the routes (they are
 * declared in a plugin registered after it). The route that answers the document is the
 * operations routes' (`GET /openapi.json`).
 * @internal
 */
export function registerOpenapi(app: FastifyInstance): void {
  for (const schema of SHARED_SCHEMAS) app.addSchema(schema);
  void app.register(swagger, {
    // The service declares its one HEAD route itself (Fastify adds none: `exposeHeadRoutes: false`).
    exposeHeadRoutes: true,
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'export-task service',
        // The versions of the two APIs it serves, which the paths carry too.
        version: 'vector/v2, storage/v1',
        description: DESCRIPTION,
        license: { name: 'MIT', identifier: 'MIT' },
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description:
              'When the service runs with a token (`--token`) or a signing key (`--signing-key`), every route but the operations routes marked public needs `Authorization: Bearer <token>`: the service token (every right), or a scoped access token (a JWT, HS256) opening one product for reading or writing, optionally some of its exports only. Without a token the service is open.',
          },
        },
      },
      security: [{ bearer: [] }],
      tags: [
        { name: 'products', description: "This service's product routes." },
        { name: 'exports', description: "DL's export routes, and the status, batch status and cancel this service adds." },
        { name: 'events', description: 'Server-Sent Events of the exports of a product.' },
        { name: 'storage', description: "DL's Storage routes, for what exports write." },
        { name: 'operations', description: 'Health, readiness, metrics and this document; nothing of the products in them.' },
      ],
    },
    // The shared schemas keep their names in components.schemas.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
    transform: ({ schema, url, route }) => {
      const documented = DOCUMENTED_BODIES[`${String(route.method)} ${url}`];
      let transformed: Record<string, unknown> = { ...schema, ...(documented === undefined ? {} : { body: documented }) };
      // A body Fastify validates is shown for both JSON media types.
      if (transformed['body'] !== undefined && documented === undefined) transformed = { ...transformed, consumes: JSON_TYPES };
      const wildcard = WILDCARD_NAMES[url];
      if (wildcard === undefined) return { schema: transformed, url };
      return {
        schema: {
          ...transformed,
          params: { type: 'object', required: [wildcard.name], properties: { [wildcard.name]: { type: 'string', description: wildcard.description } } },
        },
        url: url.replace('*', `{${wildcard.name}}`),
      };
    },
  });
}
