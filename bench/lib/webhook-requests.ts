// Autocannon request factory (see LoadOptions.requests): every request a new signed event (or batch) with unique ids.
import { randomBytes } from 'node:crypto';
import type autocannon from 'autocannon';
import { sampleEvent, signedRequest, type WebhookEndpoint } from './webhooks';

export interface WebhookLoadArgs {
  endpoint: WebhookEndpoint;
  secret: string;
  orgSlug: string;
  /** 0 or absent: single-event bodies; n: `{events: [n events]}`. */
  batch?: number;
  /** Path prefix before /webhooks/... (e.g. '' direct, or a gateway mount). */
  pathPrefix?: string;
  /** Deliver to this integration source's endpoint (/webhooks/<endpoint>/<id>), signed with `secret`, the source's. */
  sourceId?: string;
}

export function requests(args: WebhookLoadArgs): autocannon.Request[] {
  const prefix = randomBytes(4).toString('hex');
  let n = 0;
  const event = () => sampleEvent(args.endpoint, { orgSlug: args.orgSlug, entity: `${prefix}-${n++}` });
  return [
    {
      method: 'POST',
      path: `${args.pathPrefix ?? ''}/webhooks/${args.endpoint}${args.sourceId ? `/${args.sourceId}` : ''}`,
      setupRequest: (req) => {
        const payload = args.batch ? { events: Array.from({ length: args.batch }, event) } : event();
        const { body, headers } = signedRequest(args.secret, payload);
        return { ...req, body, headers };
      },
    },
  ];
}
