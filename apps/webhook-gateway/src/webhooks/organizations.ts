import { isUuid, resolveWebhookOrganizations, type Database, type OrgStatus } from '@saas/db';

export interface ResolvedOrg {
  id: string;
  status: OrgStatus;
}

const MAX_ENTRIES = 10000;

/**
 * Resolves the envelope's `organization_id` (a slug, or the organization's UUID) to an organization. Never creates
 * one. Answers — found or not — are cached briefly (`ttlMs`), so a burst of events for one tenant costs one query
 * and a suspension takes effect within the TTL; concurrent misses for the same reference share one query.
 */
export class OrganizationResolver {
  private readonly cache = new Map<string, { org: ResolvedOrg | null; expires: number }>();
  private readonly inflight = new Map<string, Promise<ResolvedOrg | null>>();

  constructor(
    private readonly db: Database,
    private readonly ttlMs = 5000,
  ) {}

  async resolveMany(refs: Iterable<string>): Promise<Map<string, ResolvedOrg | null>> {
    const now = Date.now();
    const result = new Map<string, ResolvedOrg | null>();
    const pending = new Map<string, Promise<ResolvedOrg | null>>();
    const missing: string[] = [];
    for (const ref of new Set(refs)) {
      const hit = this.cache.get(ref);
      const inflight = this.inflight.get(ref);
      if (hit && hit.expires > now) result.set(ref, hit.org);
      else if (inflight) pending.set(ref, inflight);
      else missing.push(ref);
    }
    if (missing.length) {
      const query = this.query(missing);
      missing.forEach((ref) => {
        const one = query.then((found) => found.get(ref) ?? null);
        this.inflight.set(ref, one);
        pending.set(ref, one);
      });
      query
        .then((found) => {
          if (this.cache.size > MAX_ENTRIES) this.cache.clear();
          const expires = Date.now() + this.ttlMs;
          for (const ref of missing) this.cache.set(ref, { org: found.get(ref) ?? null, expires });
        })
        .catch(() => undefined)
        .finally(() => missing.forEach((ref) => this.inflight.delete(ref)));
    }
    const entries = [...pending];
    const orgs = await Promise.all(entries.map(([, promise]) => promise));
    entries.forEach(([ref], i) => result.set(ref, orgs[i]));
    return result;
  }

  private async query(refs: string[]): Promise<Map<string, ResolvedOrg>> {
    const ids = refs.filter(isUuid).map((r) => r.toLowerCase());
    const slugs = refs.map((r) => r.toLowerCase());
    const rows = await resolveWebhookOrganizations(this.db, slugs, ids);
    const found = new Map<string, ResolvedOrg>();
    for (const ref of refs) {
      const key = ref.toLowerCase();
      const row = rows.find((r) => r.id === key) ?? rows.find((r) => r.slug === key);
      if (row) found.set(ref, { id: row.id, status: row.status });
    }
    return found;
  }
}
