import { Op, col, fn, where as sqlWhere } from 'sequelize';
import { CommunicationLog, User } from '@saas/db';
import { PermanentSyncError } from '../errors';
import { isOlder, stale, text, type Syncer } from './types';

const STATUS_BY_TYPE: Record<string, string> = { 'message.delivered': 'delivered', 'message.failed': 'failed', 'message.bounced': 'bounced' };

/** communication-service events: delivery logs upserted by (org_id, message_id), linked to the org's user with that email. */
export const syncCommunication: Syncer = async (tx, event, data) => {
  const messageId = text(data, 'message_id');
  const status = STATUS_BY_TYPE[event.event_type];
  if (!messageId || !status) throw new PermanentSyncError(`cannot apply ${event.event_type} without a message_id`);
  const existing = await CommunicationLog.findOne({ where: { org_id: event.org_id, message_id: messageId }, lock: tx.LOCK.UPDATE, transaction: tx });
  if (existing && isOlder(event.event_timestamp, existing.last_event_at)) return stale();

  const recipient = text(data, 'recipient') ?? existing?.recipient;
  const template = text(data, 'template') ?? existing?.template;
  if (!recipient || !template) throw new PermanentSyncError(`cannot record message ${messageId} without a recipient and a template`);
  const user = await User.findOne({
    where: { org_id: event.org_id, [Op.and]: [sqlWhere(fn('lower', col('email')), recipient.toLowerCase())] },
    attributes: ['id'],
    transaction: tx,
  });
  const deliveryTime = data['delivery_time_ms'];
  const fields = {
    org_id: event.org_id,
    message_id: messageId,
    recipient,
    template,
    status,
    user_id: user?.id ?? null,
    delivery_time_ms: typeof deliveryTime === 'number' ? Math.round(deliveryTime) : (existing?.delivery_time_ms ?? null),
    bounce_reason: text(data, 'bounce_reason') ?? existing?.bounce_reason ?? null,
    bounce_type: text(data, 'bounce_type') ?? existing?.bounce_type ?? null,
    failure_reason: text(data, 'failure_reason') ?? existing?.failure_reason ?? null,
    esp_message_id: text(data, 'esp_message_id') ?? existing?.esp_message_id ?? null,
    last_event_at: event.event_timestamp,
  };
  const log = existing ? await existing.update(fields, { transaction: tx }) : await CommunicationLog.create(fields, { transaction: tx });
  return {
    outcome: 'processed',
    audit: { action: 'integration.communication.synced', targetType: 'communication_log', targetId: log.id, metadata: { message_id: messageId, status } },
  };
};
