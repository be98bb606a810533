import type { RequestHandler } from 'express';
import type { Logger } from '@saas/http';
import { routedBy, type Upstream } from './routes';

type Json = Record<string, unknown>;

export interface OpenApiDocument extends Json {
  openapi: string;
  info: Json;
  paths: Record<string, Record<string, Json>>;
  components?: { schemas?: Record<string, Json>; securitySchemes?: Record<string, Json> } & Json;
}

const FETCH_TIMEOUT_MS = 2000;
const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

export async function fetchOpenApi(baseUrl: string): Promise<OpenApiDocument> {
  const res = await fetch(new URL('/openapi.json', baseUrl), { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`GET /openapi.json answered ${res.status}`);
  const doc = (await res.json()) as OpenApiDocument;
  if (typeof doc?.openapi !== 'string' || typeof doc.paths !== 'object') throw new Error('not an OpenAPI document');
  return doc;
}

export interface ServiceDocument {
  upstream: Upstream;
  doc: OpenApiDocument;
}

/**
 * One document for the public API: each service's paths that the gateway actually routes to it (so "Try it out"
 * works for everything shown), tagged with the owning service, and the union of their components.
 */
export function mergeOpenApi(services: ServiceDocument[], unavailable: string[], version: string): OpenApiDocument {
  const paths: OpenApiDocument['paths'] = {};
  const schemas: Record<string, Json> = {};
  const securitySchemes: Record<string, Json> = {};
  const tags = new Map<string, Json>();
  for (const { upstream, doc } of services) {
    for (const [path, item] of Object.entries(doc.paths)) {
      if (!routedBy(upstream.prefixes, path)) continue;
      const merged = (paths[path] ??= {});
      for (const [method, operation] of Object.entries(item)) {
        if (HTTP_METHODS.has(method) && merged[method]) continue; // first service that routes it wins
        merged[method] = HTTP_METHODS.has(method) ? { ...operation, 'x-service': upstream.name } : operation;
      }
    }
    for (const [name, schema] of Object.entries(doc.components?.schemas ?? {})) schemas[name] ??= schema;
    for (const [name, scheme] of Object.entries(doc.components?.securitySchemes ?? {})) securitySchemes[name] ??= scheme;
    for (const tag of (doc['tags'] as Json[] | undefined) ?? []) if (!tags.has(String(tag['name']))) tags.set(String(tag['name']), tag);
  }
  const missing = unavailable.length ? `\n\n**Not shown (service unreachable):** ${unavailable.join(', ')}.` : '';
  return {
    openapi: '3.0.3',
    info: {
      title: 'SaaS platform API',
      version,
      description:
        'The public API, as served by api-gateway. Errors are RFC 9457 `application/problem+json`; every response carries ' +
        '`x-request-id`. Click **Authorize** and log in with your email as username (OAuth2 password flow against ' +
        '`POST /users/login`), then use **Try it out**. Webhook endpoints authenticate with Standard Webhooks signature headers ' +
        `instead.${missing}`,
    },
    servers: [{ url: '/', description: 'this gateway' }],
    ...(tags.size ? { tags: [...tags.values()] } : {}),
    paths: Object.fromEntries(Object.entries(paths).sort(([a], [b]) => a.localeCompare(b))),
    components: { schemas, securitySchemes },
  };
}

export interface OpenApiAggregatorOptions {
  upstreams: Upstream[];
  logger: Logger;
  version: string;
  /** How long a fetched service document is reused before it is fetched again. */
  ttlMs?: number;
}

/**
 * `GET /openapi.json`: the merged document, rebuilt from the services' own documents (which they generate from
 * the joi schemas their routes validate with). A service that is down keeps its last document; one never seen is
 * listed as unavailable instead of failing the whole page.
 */
export function openApiHandler(options: OpenApiAggregatorOptions): RequestHandler {
  const ttlMs = options.ttlMs ?? 5000;
  const cache = new Map<string, { doc: OpenApiDocument; at: number }>();
  const documented = options.upstreams.filter((u) => u.prefixes.length > 0);

  async function current(upstream: Upstream): Promise<OpenApiDocument | undefined> {
    const cached = cache.get(upstream.name);
    if (cached && Date.now() - cached.at < ttlMs) return cached.doc;
    try {
      const doc = await fetchOpenApi(upstream.url);
      cache.set(upstream.name, { doc, at: Date.now() });
      return doc;
    } catch (err) {
      options.logger.warn({ upstream: upstream.name, err: (err as Error).message }, 'OpenAPI document unavailable');
      return cached?.doc;
    }
  }

  return async (_req, res) => {
    const docs = await Promise.all(documented.map(async (upstream) => ({ upstream, doc: await current(upstream) })));
    const available = docs.filter((d): d is ServiceDocument => d.doc !== undefined);
    const unavailable = docs.filter((d) => d.doc === undefined).map((d) => d.upstream.name);
    res.setHeader('cache-control', 'no-cache');
    res.json(mergeOpenApi(available, unavailable, options.version));
  };
}
