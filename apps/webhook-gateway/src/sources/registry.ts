import type { SecretBox } from '@saas/auth';
import type { IntegrationService } from '@saas/contracts';
import { findActiveSourceWithOrg, isUuid, type Database, type OrgStatus } from '@saas/db';
import { signingKeys } from '../webhooks/signature';

/** What verifying and routing a delivery to a source endpoint needs, decrypted once per cache fill. */
export interface ActiveSource {
  id: string;
  orgId: string;
  orgSlug: string;
  orgStatus: OrgStatus;
  service: IntegrationService;
  /** The signing keys valid at `atMs`: the current secret's, and the previous one's until it expires (a rotation's overlap). */
  keysAt(atMs: number): Buffer[];
}

interface Entry {
  source: ActiveSource | null;
  loadedAt: number;
}

const MAX_ENTRIES = 10000;

/**
 * Active sources by id, for the webhook hot path: a source is read (with its organization) and its secrets decrypted
 * once, then served from memory for `ttlMs`, so verifying a delivery costs no database round trip. Unknown, disabled
 * and deleted sources are remembered as absent for as long. Changes made through this process take effect at once
 * (`forget`); another replica's changes within `ttlMs`, except a rotation's new secret, which a delivery that fails to
 * verify against a cached entry older than `refreshAfterMs` reloads (`reload`), so a sender may switch at once.
 */
export class SourceRegistry {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<ActiveSource | null>>();

  constructor(
    private readonly db: Database,
    private readonly box: SecretBox,
    private readonly ttlMs = 5000,
    readonly refreshAfterMs = 1000,
  ) {}

  /** The active source `id` names, or null (malformed id, unknown, disabled or deleted). */
  async find(id: string): Promise<ActiveSource | null> {
    if (!isUuid(id)) return null;
    const key = id.toLowerCase();
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.loadedAt < this.ttlMs) return hit.source;
    return this.load(key);
  }

  /** Reads the source again unless its entry is younger than `refreshAfterMs`; the entry as it then is. */
  async reload(id: string): Promise<ActiveSource | null> {
    if (!isUuid(id)) return null;
    const key = id.toLowerCase();
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.loadedAt < this.refreshAfterMs) return hit.source;
    return this.load(key);
  }

  /** Drops a source's entry after this process changed it. */
  forget(id: string): void {
    this.cache.delete(id.toLowerCase());
  }

  private load(id: string): Promise<ActiveSource | null> {
    const running = this.inflight.get(id);
    if (running) return running;
    const loading = this.query(id)
      .then((source) => {
        if (this.cache.size >= MAX_ENTRIES) this.cache.clear();
        this.cache.set(id, { source, loadedAt: Date.now() });
        return source;
      })
      .finally(() => this.inflight.delete(id));
    this.inflight.set(id, loading);
    return loading;
  }

  private async query(id: string): Promise<ActiveSource | null> {
    const row = await findActiveSourceWithOrg(this.db, id);
    if (!row) return null;
    const current = signingKeys(this.box.open(row.secret_ciphertext, row.id));
    const previous = row.previous_secret_ciphertext ? signingKeys(this.box.open(row.previous_secret_ciphertext, row.id)) : [];
    const previousUntil = row.previous_secret_expires_at ? new Date(row.previous_secret_expires_at).getTime() : 0;
    return {
      id: row.id,
      orgId: row.org_id,
      orgSlug: row.org_slug,
      orgStatus: row.org_status,
      service: row.service,
      keysAt: (atMs) => (atMs < previousUntil ? [...current, ...previous] : current),
    };
  }
}
