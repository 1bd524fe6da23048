import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { BackendEvent } from '../../client/backend.js';
import { ForbiddenError, UnauthorizedError } from '../../client/http-errors.js';
import { looksLikeJwt, verifyAccessToken, type ScopedGrant } from '../access-tokens.js';
import type { EventFeed } from '../embedded/engine.js';
import type { ExportRecord } from '../embedded/export-record.js';
import type { ExportService } from './export-service.js';

/** What a request may do: everything (the master token, or a service without tokens), or what a scoped token grants. @internal */
export type Grant = { readonly kind: 'all' } | ({ readonly kind: 'scoped' } & ScopedGrant);

/** A right a route needs of a scoped token. */
type Need = 'read' | 'write';

/** What each route needs: the right, and whether it acts on one export (`:export_id`) or on the product as a whole. */
interface RouteRule {
  readonly need: Need;
  /**
   * `export`: the export in the path must be one of the token's; `product`: an export-limited
   * token may not; `filtered`: the route shows only the token's exports; `key`: a file of one of
   * its exports; `log`: the log (`{product_id}/{export_id}`) of one of its exports.
   */
  readonly on: 'export' | 'product' | 'filtered' | 'key' | 'log';
}

const EXPORTS = '/vector/v2/products/:product_id/search/export';
/**
 * What a scoped token needs for each route of the Vector and Storage APIs, by `METHOD url`
 * (a route missing here is refused to scoped tokens: a test checks that every route is here).
 * @internal
 */
export const RULES: ReadonlyMap<string, RouteRule> = new Map([
  ['POST /vector/v2/products', { need: 'write', on: 'product' }],
  ['GET /vector/v2/products/:product_id', { need: 'read', on: 'filtered' }],
  ['POST /vector/v2/products/:product_id/features', { need: 'write', on: 'product' }],
  [`POST ${EXPORTS}`, { need: 'write', on: 'product' }],
  [`GET ${EXPORTS}`, { need: 'read', on: 'filtered' }],
  [`GET ${EXPORTS}/events`, { need: 'read', on: 'filtered' }],
  [`POST ${EXPORTS}/status`, { need: 'read', on: 'filtered' }],
  [`GET ${EXPORTS}/status`, { need: 'read', on: 'filtered' }],
  [`GET ${EXPORTS}/:export_id`, { need: 'read', on: 'export' }],
  [`GET ${EXPORTS}/:export_id/status`, { need: 'read', on: 'export' }],
  [`POST ${EXPORTS}/:export_id/cancel`, { need: 'write', on: 'export' }],
  ['GET /storage/v1/data/get/*', { need: 'read', on: 'key' }],
  ['HEAD /storage/v1/data/get/*', { need: 'read', on: 'key' }],
  ['GET /storage/v1/logs/get/*', { need: 'read', on: 'log' }],
]);

const grants = new WeakMap<FastifyRequest, Grant>();
const ALL: Grant = { kind: 'all' };

/** What the request was granted by {@link Access.check} (everything for a request it never saw). @internal */
export function grantOf(request: FastifyRequest): Grant {
  return grants.get(request) ?? ALL;
}

/** Whether the request may see this export of the product (always, but for an export-limited token). @internal */
export function maySee(request: FastifyRequest, exportId: string): boolean {
  const grant = grantOf(request);
  return grant.kind === 'all' || grant.exports === undefined || grant.exports.has(exportId);
}

/**
 * The feed as an export-limited token may read it: only its exports' events. The cursor is the
 * product's (the events left out are read past), so a resume misses nothing of the token's exports.
 * @internal
 */
export function feedFor(request: FastifyRequest, feed: EventFeed): EventFeed {
  const grant = grantOf(request);
  if (grant.kind === 'all' || grant.exports === undefined) return feed;
  const exports = grant.exports;
  return {
    get cursor() {
      return feed.cursor;
    },
    take(limit: number): BackendEvent[] {
      const kept: BackendEvent[] = [];
      while (kept.length < limit) {
        const want = limit - kept.length;
        const batch = feed.take(want);
        for (const event of batch) if (exports.has(event.event.export_id)) kept.push(event);
        if (batch.length < want) break;
      }
      return kept;
    },
    onAppend: (listener) => feed.onAppend(listener),
  };
}

/** Options of {@link Access}. @internal */
export interface AccessOptions {
  /** The master token: every right. */
  readonly token: string | undefined;
  /** The key scoped tokens are verified with. */
  readonly signingKey: Uint8Array | undefined;
}

/**
 * Who may do what: the master token may do everything; a scoped token (a JWT signed with the
 * signing key) what its claims say, route by route; without a token or a signing key, the
 * service is open. Checked before the request's body is read.
 * @internal
 */
export class Access {
  readonly #master: Buffer | undefined;
  readonly #signingKey: Uint8Array | undefined;
  readonly #engine: ExportService;

  constructor(engine: ExportService, options: AccessOptions) {
    this.#engine = engine;
    this.#master = options.token === undefined ? undefined : digest(options.token);
    this.#signingKey = options.signingKey;
  }

  /** Whether requests need a token at all. */
  get required(): boolean {
    return this.#master !== undefined || this.#signingKey !== undefined;
  }

  /**
   * Authenticates the request and checks the route's rights, remembering the grant for the route.
   * @throws UnauthorizedError (401) without a valid token; ForbiddenError (403) outside its rights.
   */
  async check(request: FastifyRequest): Promise<void> {
    if (!this.required) return;
    const header = request.headers.authorization;
    const given = header === undefined ? undefined : /^Bearer +(\S+) *$/i.exec(header)?.[1];
    if (given === undefined) {
      throw new UnauthorizedError(
        header === undefined
          ? 'This export service needs a token: send it as `Authorization: Bearer <token>`'
          : "The Authorization header does not hold this service's token: send `Authorization: Bearer <token>` with the token the service was started with",
      );
    }
    // Compare digests, of equal length, in constant time; the token is never echoed.
    if (this.#master !== undefined && timingSafeEqual(digest(given), this.#master)) return;
    if (this.#signingKey === undefined || !looksLikeJwt(given)) {
      throw new UnauthorizedError("The Authorization header does not hold this service's token: send `Authorization: Bearer <token>` with the token the service was started with");
    }
    const scoped = await verifyAccessToken(this.#signingKey, given);
    grants.set(request, { kind: 'scoped', ...scoped });
    await this.#authorize(request, scoped);
  }

  async #authorize(request: FastifyRequest, grant: ScopedGrant): Promise<void> {
    const route = request.routeOptions.url;
    // No such route: the not-found handler answers 404, as it does for everyone.
    if (route === undefined) return;
    const rule = RULES.get(`${request.method} ${route}`);
    const whose = `This token (${grant.scope}, product ${JSON.stringify(grant.product)}${grant.exports === undefined ? '' : `, exports ${[...grant.exports].join(', ')}`})`;
    if (rule === undefined) throw new ForbiddenError(`${whose} does not open ${request.method} ${route}: it takes the service's token`);
    if (rule.need === 'write' && grant.scope !== 'write') throw new ForbiddenError(`${whose} is read-only: ${request.method} ${route} needs a write token`);
    const params = request.params as { product_id?: string; export_id?: string; '*'?: string };
    if (route === '/vector/v2/products') {
      // Creating a product: only the token's own (checked once the body is read, in checkBody).
      return;
    }
    if (rule.on === 'key') return this.#checkKey(grant, whose, params['*'] ?? '');
    if (rule.on === 'log') {
      // A log's key is `{product_id}/{export_id}`: the token's product, and one of its exports.
      const [product, exportId, ...rest] = (params['*'] ?? '').split('/');
      if (product !== grant.product || exportId === undefined || rest.length !== 0 || (grant.exports !== undefined && !grant.exports.has(exportId))) {
        throw new ForbiddenError(`${whose} opens only the logs of its product's exports, and ${JSON.stringify(params['*'])} is not one of them`);
      }
      return;
    }
    if (params.product_id !== grant.product) throw new ForbiddenError(`${whose} does not open product ${JSON.stringify(params.product_id)}`);
    if (rule.on === 'product' && grant.exports !== undefined) {
      throw new ForbiddenError(`${whose} is limited to some exports: ${request.method} ${route} needs a token for the whole product`);
    }
    if (rule.on === 'export' && grant.exports !== undefined && !grant.exports.has(params.export_id ?? '')) {
      throw new ForbiddenError(`${whose} does not open export ${JSON.stringify(params.export_id)}`);
    }
  }

  /** A download: the key must be the file of a successful export the token may see. */
  async #checkKey(grant: ScopedGrant, whose: string, key: string): Promise<void> {
    let continuation: string | null | undefined;
    do {
      const page = await this.#engine.listFinal(grant.product, continuation);
      if (page.records.some((record) => fileOf(record) === key && (grant.exports === undefined || grant.exports.has(record.exportId)))) return;
      continuation = page.continuationToken;
    } while (continuation !== null);
    throw new ForbiddenError(`${whose} opens only the files of its product's exports, and ${JSON.stringify(key)} is not one of them`);
  }

  /**
   * What only the body tells: a scoped write token creates only its own product.
   * @throws ForbiddenError
   */
  checkBody(request: FastifyRequest): void {
    const grant = grantOf(request);
    if (grant.kind === 'all' || request.method !== 'POST' || request.routeOptions.url !== '/vector/v2/products') return;
    const id = (request.body as { id?: unknown } | undefined)?.id;
    if (id !== grant.product || grant.exports !== undefined) {
      throw new ForbiddenError(`This token opens product ${JSON.stringify(grant.product)} only: it cannot create product ${JSON.stringify(id)}`);
    }
  }
}

function fileOf(record: ExportRecord): string | null {
  return record.attributes?.status === 'SUCCESS' ? record.attributes.key : null;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(`Bearer ${token}`, 'utf8').digest();
}
