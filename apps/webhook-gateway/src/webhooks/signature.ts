import { timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { AppError } from '@saas/http';

/** 401 for any signature problem; nothing is stored. Not a Bearer challenge: the scheme is Standard Webhooks. */
export class WebhookSignatureError extends AppError {
  constructor(code: string, detail: string) {
    super(401, code, 'Unauthorized', { detail });
  }
}

const header = (headers: Record<string, string | string[] | undefined>, name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * Standard Webhooks verification of the raw body against every configured secret of one service (several,
 * space-separated, while a secret is rotated). The `standardwebhooks` library computes the signatures; the
 * timestamp is checked here against WEBHOOK_SIGNATURE_TOLERANCE_SECONDS at receipt (the library's own check is
 * fixed at 5 minutes).
 */
export class SignatureVerifier {
  private readonly keys: Webhook[];

  constructor(
    secrets: string,
    private readonly toleranceSeconds: number,
  ) {
    this.keys = secrets.trim().split(/\s+/).map((secret) => new Webhook(secret));
  }

  verify(headers: Record<string, string | string[] | undefined>, rawBody: Buffer, receivedAtMs: number): void {
    const id = header(headers, 'webhook-id');
    const timestampHeader = header(headers, 'webhook-timestamp');
    const signatures = header(headers, 'webhook-signature');
    if (!id || !timestampHeader || !signatures) {
      throw new WebhookSignatureError('missing_signature', 'The webhook-id, webhook-timestamp and webhook-signature headers are required');
    }
    if (!/^\d{1,12}$/.test(timestampHeader)) throw new WebhookSignatureError('invalid_signature', 'webhook-timestamp must be Unix seconds');
    const timestamp = Number(timestampHeader);
    const now = Math.floor(receivedAtMs / 1000);
    if (now - timestamp > this.toleranceSeconds) throw new WebhookSignatureError('stale_timestamp', 'webhook-timestamp is too old');
    if (timestamp - now > this.toleranceSeconds) throw new WebhookSignatureError('future_timestamp', 'webhook-timestamp is in the future');

    const offered = signatures
      .split(' ')
      .filter((s) => s.startsWith('v1,'))
      .map((s) => Buffer.from(s.slice(3)));
    const at = new Date(timestamp * 1000);
    for (const key of this.keys) {
      const expected = Buffer.from(key.sign(id, at, rawBody).slice(3));
      if (offered.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected))) return;
    }
    throw new WebhookSignatureError('invalid_signature', 'No webhook-signature matches the body');
  }
}
