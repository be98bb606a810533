import { readFileSync } from 'node:fs';
import path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import Ajv2019 from 'ajv/dist/2019';
import addFormats from 'ajv-formats';
import { parseAllDocuments } from 'yaml';

export const ROOT = path.resolve(__dirname, '../../../..');
const SCHEMAS = path.resolve(__dirname, '../../schemas');

export const readText = (relative: string) => readFileSync(path.join(ROOT, relative), 'utf8');

type JsonNode = unknown;

/** Drops draft-04 style `id` annotations and `$schema` (ajv 8 refuses the first and does not know the old metaschemas). */
function normalise(node: JsonNode, parentKey?: string): JsonNode {
  if (Array.isArray(node)) return node.map((n) => normalise(n));
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => parentKey === 'properties' || !(key === '$schema' || (key === 'id' && typeof value === 'string')))
      .map(([key, value]) => [key, normalise(value, key)]),
  );
}

function loadSchema(file: string): Record<string, unknown> {
  // The OpenAPI 3.0 schema is draft-04: its one boolean exclusiveMinimum becomes draft-07's numeric form.
  const text = readFileSync(path.join(SCHEMAS, file), 'utf8').replace(/"minimum":\s*0,\s*"exclusiveMinimum":\s*true/g, '"exclusiveMinimum": 0');
  return normalise(JSON.parse(text)) as Record<string, unknown>;
}

// Compose's own string formats (docker/compose's loader defines them); enough to refuse nonsense.
const COMPOSE_FORMATS = {
  ports: /^((\[?[0-9a-fA-F.:]+\]?:)?(\$\{[^}]+\}|[0-9]+(-[0-9]+)?):)?[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/,
  expose: /^[0-9]+(-[0-9]+)?(\/(tcp|udp|sctp))?$/,
  subnet_ip_address: /^[0-9a-fA-F.:]+\/[0-9]{1,3}$/,
  duration: /^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h))+$/,
};

export function composeValidator(): ValidateFunction {
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  addFormats(ajv);
  for (const [name, pattern] of Object.entries(COMPOSE_FORMATS)) ajv.addFormat(name, pattern);
  return ajv.compile(loadSchema('compose-spec.json'));
}

export function openApiValidator(): ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  return ajv.compile(loadSchema('openapi-3.0.json'));
}

export function prometheusRulesValidator(): ValidateFunction {
  return new Ajv({ allErrors: true }).compile(loadSchema('prometheus-rules-subset.json'));
}

/** Validators of the Kubernetes objects, keyed by `apiVersion/kind`. */
export function k8sValidators(): Map<string, ValidateFunction> {
  const schema = loadSchema('k8s-subset.json') as { 'x-kinds': Record<string, string> };
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  ajv.addSchema(schema, 'k8s');
  return new Map(Object.entries(schema['x-kinds']).map(([key, definition]) => [key, ajv.getSchema(`k8s#/definitions/${definition}`)!]));
}

export const formatErrors = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`).join('\n');

/** Every YAML document of a file; a syntax error fails loudly with its position. */
export function yamlDocuments(relative: string): Record<string, unknown>[] {
  return parseAllDocuments(readText(relative), { merge: true }).map((doc) => {
    if (doc.errors.length) throw new Error(`${relative}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS({ maxAliasCount: 100 }) as Record<string, unknown>;
  });
}
