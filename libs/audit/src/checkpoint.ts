import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { DEV_SECRETS, type AuditConfig } from '@saas/config';
import { canonicalJson } from './chain';

/**
 * What a checkpoint vouches for: a run of consecutive entries of one chain (org_id NULL: the platform's), from the
 * `prev_hash` of its first entry to the `hash` of its last. Verification requires each run to start where the
 * previous one ended, so an entry the checkpoints do not cover breaks the sequence wherever it sits.
 */
export interface CheckpointedRun {
  org_id: string | null;
  first_prev_hash: string;
  last_hash: string;
  entry_count: number;
}

/** A run as stored in `audit_checkpoints`: MACed with the key `key_id` names. */
export interface AuditCheckpoint extends CheckpointedRun {
  key_id: string;
  mac: string;
}

interface CheckpointKey {
  id: string;
  secret: Buffer;
}

/** The id a checkpoint names its key by: the first 16 hex digits of the key's SHA-256 (never the key itself). */
function checkpointKey(base64: string): CheckpointKey {
  const secret = Buffer.from(base64, 'base64');
  return { id: createHash('sha256').update(secret).digest('hex').slice(0, 16), secret };
}

function macOf(secret: Buffer, run: CheckpointedRun): string {
  const message = canonicalJson(['audit-checkpoint-v1', run.org_id, run.first_prev_hash, run.last_hash, run.entry_count]);
  return createHmac('sha256', secret).update(message).digest('hex');
}

/** The key that signs new checkpoints (AUDIT_CHECKPOINT_KEY) and, by id, every key whose checkpoints still verify. */
export class AuditCheckpointKeys {
  private readonly verifying: Map<string, Buffer>;

  private constructor(
    private readonly signing: CheckpointKey,
    previous: CheckpointKey[],
  ) {
    this.verifying = new Map([...previous, signing].map((key) => [key.id, key.secret]));
  }

  static fromConfig(config: AuditConfig): AuditCheckpointKeys {
    const previous = (config.AUDIT_CHECKPOINT_PREVIOUS_KEYS ?? '').split(/\s+/).filter(Boolean);
    return new AuditCheckpointKeys(checkpointKey(config.AUDIT_CHECKPOINT_KEY), previous.map(checkpointKey));
  }

  sign(run: CheckpointedRun): AuditCheckpoint {
    return { ...run, key_id: this.signing.id, mac: macOf(this.signing.secret, run) };
  }

  /** Whether the checkpoint's MAC is right under the key it names; a key id we do not hold never verifies. */
  verifies(checkpoint: AuditCheckpoint): boolean {
    const secret = this.verifying.get(checkpoint.key_id);
    if (!secret) return false;
    const expected = Buffer.from(macOf(secret, checkpoint));
    const given = Buffer.from(checkpoint.mac);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/**
 * The process's checkpoint keys. Until `configureAuditCheckpoints` runs: the development key, as a development or
 * test config has it, so libraries and their specs append without a runtime. A production config refuses that key,
 * so checkpoints written by a process that was never configured fail verification there; they never pass it.
 */
let processKeys = AuditCheckpointKeys.fromConfig({ AUDIT_CHECKPOINT_KEY: DEV_SECRETS.AUDIT_CHECKPOINT_KEY });

/**
 * Sets the keys this process signs and verifies audit checkpoints with, from its config. Every process that appends
 * or verifies audit entries calls it once at startup: `createRuntime` (libs/runtime) for the services, the migrate job
 * for the superadmin bootstrap.
 */
export function configureAuditCheckpoints(config: AuditConfig): void {
  processKeys = AuditCheckpointKeys.fromConfig(config);
}

/** The keys set by `configureAuditCheckpoints`. */
export const auditCheckpointKeys = (): AuditCheckpointKeys => processKeys;
