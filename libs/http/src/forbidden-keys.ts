import { ValidationError } from './errors';

/**
 * Keys that reach an object's prototype machinery when code copies, merges or assigns by key (prototype pollution).
 * No body of this API or of a provider's webhook has a reason to carry one: a body that does answers 422.
 */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Whether raw JSON text could hold a forbidden key at all: a quick test that spares the walk for nearly every body. */
export function mayHoldForbiddenKey(raw: Buffer): boolean {
  return raw.includes('__proto__') || raw.includes('constructor') || raw.includes('prototype');
}

/** The path of the first forbidden key in a parsed JSON value, or undefined. Iterative: depth costs no stack. */
export function findForbiddenKey(value: unknown): string | undefined {
  const pending: [unknown, string][] = [[value, '']];
  while (pending.length) {
    const [node, path] = pending.pop() as [unknown, string];
    if (typeof node !== 'object' || node === null) continue;
    for (const key of Object.keys(node)) {
      const at = path ? `${path}.${key}` : key;
      if (FORBIDDEN_KEYS.has(key)) return at;
      pending.push([(node as Record<string, unknown>)[key], at]);
    }
  }
  return undefined;
}

/** 422 `forbidden_key` when the value holds `__proto__`, `constructor` or `prototype` as a key anywhere. */
export function refuseForbiddenKeys(value: unknown): void {
  const path = findForbiddenKey(value);
  if (path !== undefined) {
    throw new ValidationError([{ path, message: `"${path.split('.').pop()}" is not allowed as a key` }], 'The body holds a forbidden key', 'forbidden_key');
  }
}
