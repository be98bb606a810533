import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Express } from 'express';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Paths every service serves on its public port that are operational, not API (documented by the README, not OpenAPI). */
export const OPERATIONAL_PATHS = new Set(['/healthz', '/readyz', '/openapi.json']);

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** `METHOD /openapi/{path}` of every route an Express app registered (routers mounted at the root, as ApiRouter is). */
export function registeredRoutes(app: Express): string[] {
  const walk = (stack: Layer[]): string[] =>
    stack.flatMap((layer) => {
      if (layer.route) {
        const route = layer.route;
        return Object.keys(route.methods).filter((m) => m !== '_all').map((m) => `${m.toUpperCase()} ${route.path.replace(/:([A-Za-z_]+)/g, '{$1}')}`);
      }
      return layer.handle?.stack ? walk(layer.handle.stack) : [];
    });
  return walk((app as unknown as { router: { stack: Layer[] } }).router.stack).filter((r) => !OPERATIONAL_PATHS.has(r.split(' ')[1]));
}

export function documentedRoutes(doc: Json): string[] {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((m) => ['get', 'put', 'post', 'patch', 'delete'].includes(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
}

/**
 * Checks real responses against an OpenAPI document: the status must be documented for the operation, and a JSON
 * body must match the documented schema. Problems are collected, so one test reports all of them.
 */
export class ResponseChecker {
  readonly problems: string[] = [];
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly cache = new Map<string, ValidateFunction>();
  private readonly templates: { template: string; pattern: RegExp; literal: number }[];

  constructor(private readonly doc: Json) {
    addFormats(this.ajv);
    this.templates = Object.keys(doc.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
      literal: template.replace(/\{[^}]+\}/g, '').length,
    }));
  }

  /** The most specific documented template for a concrete path (`/users/me` before `/users/{id}`). */
  templateOf(path: string): string | undefined {
    return this.templates.filter((t) => t.pattern.test(path)).sort((a, b) => b.literal - a.literal)[0]?.template;
  }

  check(method: string, url: string, status: number, contentType: string | undefined, body: unknown): void {
    const path = url.split('?')[0];
    const label = `${method.toUpperCase()} ${url} → ${status}`;
    const template = this.templateOf(path);
    const operation = template ? this.doc.paths[template][method.toLowerCase()] : undefined;
    if (!operation) return void this.problems.push(`${label}: no documented operation`);
    const response = operation.responses?.[String(status)];
    if (!response) return void this.problems.push(`${label}: status not documented for ${method.toUpperCase()} ${template} (has ${Object.keys(operation.responses ?? {}).join(', ')})`);
    const media = contentType?.split(';')[0].trim();
    const content = response.content as Record<string, { schema?: Json }> | undefined;
    if (!content || status === 204) return;
    if (!media || !content[media]) return void this.problems.push(`${label}: content-type ${media} not documented (${Object.keys(content).join(', ')})`);
    const schema = content[media].schema;
    if (!schema) return;
    const key = `${template} ${method} ${status} ${media}`;
    let validate = this.cache.get(key);
    if (!validate) {
      validate = this.ajv.compile({ ...schema, components: this.doc.components });
      this.cache.set(key, validate);
    }
    if (!validate(body)) {
      const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
      this.problems.push(`${label}: body does not match the documented schema:\n    ${errors.join('\n    ')}`);
    }
  }
}
