import { setFlagsFromString } from 'node:v8';
import fc, { type IAsyncProperty } from 'fast-check';
import { runInNewContext } from 'node:vm';
import { QueryTypes } from 'sequelize';
import type { Database } from '@saas/db';

/** A full garbage collection (Jest runs without --expose-gc; the flag can be set at runtime and `gc` read from a fresh context). */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

/** Heap used after a full GC, in MB. */
export function settledHeapMb(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed / 1048576;
}

/** Row counts of `tables`, read across organizations (the test is the platform here, not a tenant). */
export async function rowCounts(db: Database, tables: readonly string[]): Promise<Record<string, number>> {
  return db.asSystem('fuzz assertion', async (transaction) => {
    const select = tables.map((t) => `(SELECT count(*)::int FROM ${t}) AS "${t}"`).join(', ');
    return (await db.sequelize.query(`SELECT ${select}`, { type: QueryTypes.SELECT, plain: true, transaction })) as unknown as Record<string, number>;
  });
}

export interface Exchange {
  status: number;
  contentType: string;
  text: string;
}

/** Sends a raw request (any body bytes, any headers) and reads the whole answer. */
export async function send(url: string, init: { method: string; headers?: Record<string, string>; body?: string | Uint8Array }): Promise<Exchange> {
  const hasBody = init.body !== undefined && init.method !== 'GET' && init.method !== 'HEAD';
  const res = await fetch(url, { method: init.method, headers: init.headers, body: hasBody ? init.body : undefined, redirect: 'manual' });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
}

/** What the property must hold for every answer: no 5xx, and an error is problem+json. */
export function problemsWith(ex: Exchange): string | null {
  if (ex.status >= 500) return `answered ${ex.status}: ${ex.text.slice(0, 300)}`;
  if (ex.status >= 400 && !ex.contentType.startsWith('application/problem+json')) return `error ${ex.status} is ${ex.contentType}, not problem+json`;
  return null;
}

/**
 * Runs `property` for `runs` cases: a warm-up share first (caches, JIT, pools fill), then the rest between two
 * heap readings after full GC. Returns the heap growth in MB over the measured share.
 */
export async function assertWithHeapGrowth<T>(property: IAsyncProperty<T>, runs: number, warmUp: number): Promise<number> {
  await fc.assert(property, { numRuns: warmUp, seed: 7 });
  const before = settledHeapMb();
  await fc.assert(property, { numRuns: runs - warmUp, seed: 11 });
  return settledHeapMb() - before;
}

/** Strings that break naive code paths: encodings PostgreSQL refuses, injection, traversal, size, emptiness. */
export const hostileStrings = fc.constantFrom(
  '__proto__',
  'constructor',
  "'; DROP TABLE users; --",
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDFFFx',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  'ñ'.repeat(300),
  '%00',
  ' ',
  '',
);

/** Values of the wrong type or shape for any field. */
export const weirdValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  hostileStrings,
  fc.constantFrom(1e308, -0, Number.MAX_SAFE_INTEGER + 2, 0.1, -1, true, null, [], {}),
  fc.string({ minLength: 200, maxLength: 2000 }),
);
