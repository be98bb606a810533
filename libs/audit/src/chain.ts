import { createHash } from 'node:crypto';

/** The `prev_hash` of the first entry of every organization's chain (and of the platform's, org_id NULL). */
export const GENESIS_HASH = '0'.repeat(64);

export interface HashedFields {
  id: string;
  org_id: string | null;
  actor_type: string;
  actor_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  request_id: string | null;
  ip: string | null;
  metadata: unknown;
  created_at: Date;
}

/** JSON with object keys sorted at every depth: the same value always serializes to the same text (jsonb reorders keys). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** `hash = sha256(prev_hash + canonical entry)` (docs/TENANCY.md "The hash chain"). */
export function entryHash(prevHash: string, entry: HashedFields): string {
  const canonical = canonicalJson([
    entry.id,
    entry.org_id,
    entry.actor_type,
    entry.actor_id,
    entry.action,
    entry.target_type,
    entry.target_id,
    entry.request_id,
    entry.ip,
    entry.metadata ?? {},
    entry.created_at.toISOString(),
  ]);
  return createHash('sha256').update(prevHash).update(canonical).digest('hex');
}
