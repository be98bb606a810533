import express, { type RequestHandler, type Router } from 'express';
import type { Schema } from 'joi';
import j2s from 'joi-to-swagger';
import { validate, type RequestSchemas } from './validate';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ResponseSpec {
  description: string;
  schema?: Schema;
  /** Defaults to application/json. */
  contentType?: string;
  headers?: Record<string, { description: string }>;
}

/**
 * One route, declared in one place: its guards, its validation, its handler and its documentation.
 * The OpenAPI document is generated from these same joi schemas, so the docs cannot drift from the checks.
 */
export interface RouteSpec {
  method: HttpMethod;
  /** Express path, e.g. `/users/:id`. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  /** `bearer`: a JWT access token; `webhook`: Standard Webhooks signature headers; `none`: public. */
  security: 'bearer' | 'webhook' | 'none';
  /** Run before validation (authentication → 401, authorization → 403 come before 422). */
  guards?: RequestHandler[];
  request?: RequestSchemas;
  /** Raw OpenAPI requestBody, for bodies joi cannot describe (forms, signed webhooks). Overrides `request.body` in the docs. */
  requestBodyDoc?: Record<string, unknown>;
  /** Extra header parameters to document (e.g. webhook signature headers). */
  headerParams?: { name: string; description: string; required?: boolean }[];
  responses: Record<number, ResponseSpec>;
  handler: RequestHandler;
}

type OpenApiObject = Record<string, unknown>;

const toOpenApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, '{$1}');
const schemaOf = (schema: Schema) => j2s(schema).swagger as OpenApiObject;

const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['type', 'title', 'status', 'detail', 'code', 'request_id'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string' },
    request_id: { type: 'string' },
    errors: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
  },
};

export class ApiRouter {
  readonly router: Router = express.Router();
  readonly routes: RouteSpec[] = [];

  add(spec: RouteSpec): this {
    this.routes.push(spec);
    const handlers: RequestHandler[] = [...(spec.guards ?? [])];
    if (spec.request) handlers.push(validate(spec.request));
    handlers.push(spec.handler);
    this.router[spec.method](spec.path, ...handlers);
    return this;
  }

  /** OpenAPI `paths` entries for this router's routes. */
  paths(): Record<string, Record<string, OpenApiObject>> {
    const paths: Record<string, Record<string, OpenApiObject>> = {};
    for (const route of this.routes) {
      const parameters: OpenApiObject[] = [];
      for (const [segment, where] of [['params', 'path'], ['query', 'query']] as const) {
        const schema = route.request?.[segment];
        if (!schema) continue;
        const json = schemaOf(schema) as { properties?: Record<string, OpenApiObject>; required?: string[] };
        for (const [name, property] of Object.entries(json.properties ?? {})) {
          parameters.push({ name, in: where, required: where === 'path' || (json.required ?? []).includes(name), schema: property });
        }
      }
      for (const header of route.headerParams ?? []) {
        parameters.push({ name: header.name, in: 'header', required: header.required ?? true, description: header.description, schema: { type: 'string' } });
      }
      const responses: Record<string, OpenApiObject> = {};
      for (const [status, response] of Object.entries(route.responses)) {
        const contentType = response.contentType ?? (Number(status) >= 400 ? 'application/problem+json' : 'application/json');
        const schema = response.schema ? schemaOf(response.schema) : Number(status) >= 400 ? PROBLEM_SCHEMA : undefined;
        responses[status] = {
          description: response.description,
          ...(response.headers ? { headers: Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k, { ...v, schema: { type: 'string' } }])) } : {}),
          ...(schema ? { content: { [contentType]: { schema } } } : {}),
        };
      }
      const requestBody =
        route.requestBodyDoc ??
        (route.request?.body ? { required: true, content: { 'application/json': { schema: schemaOf(route.request.body) } } } : undefined);
      const path = toOpenApiPath(route.path);
      paths[path] ??= {};
      paths[path][route.method] = {
        summary: route.summary,
        ...(route.description ? { description: route.description } : {}),
        tags: route.tags,
        operationId: `${route.method}${path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
        ...(route.security === 'bearer' ? { security: [{ bearerAuth: [] }, { oauth2Password: [] }] } : { security: [] }),
        ...(parameters.length ? { parameters } : {}),
        ...(requestBody ? { requestBody } : {}),
        responses,
      };
    }
    return paths;
  }
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description?: string;
}

/** A service's OpenAPI 3 document, built from its routers' declarations. */
export function buildOpenApiDocument(info: OpenApiInfo, routers: ApiRouter[]): OpenApiObject {
  return {
    openapi: '3.0.3',
    info,
    paths: Object.assign({}, ...routers.map((r) => r.paths())),
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
        oauth2Password: { type: 'oauth2', flows: { password: { tokenUrl: '/users/login', scopes: {} } } },
      },
      schemas: { Problem: PROBLEM_SCHEMA },
    },
  };
}
