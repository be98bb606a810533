/**
 * Failure classes (docs/MESSAGING.md "Transient and permanent failures"). Transient: worth another attempt later
 * (provider error or timeout, database unavailable, a referenced record not synced yet). Permanent: data that can
 * never apply, dead-lettered at once.
 */
export class TransientSyncError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientSyncError';
  }
}

export class PermanentSyncError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentSyncError';
  }
}

/** Anything not known to be permanent is retried: a lost connection or a crashed provider may well recover. */
export function isPermanent(err: unknown): boolean {
  return err instanceof PermanentSyncError;
}

export function errorMessage(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 1000);
}
