import { randomUUID } from 'node:crypto';
import { insertCommunicationLogs, lockCommunicationLogs, recipientUserIds, updateCommunicationLogs, type CommunicationLogRow } from '@saas/db';
import { PermanentSyncError } from '../errors';
import { isOlder, stale, text, type BatchSyncer, type SyncResult } from './types';

const STATUS_BY_TYPE: Record<string, string> = { 'message.delivered': 'delivered', 'message.failed': 'failed', 'message.bounced': 'bounced' };

/**
 * communication-service events: delivery logs upserted by (org_id, message_id), linked to the org's user with that
 * email. A batch costs four statements whatever its size: the logs it touches (locked), the users of its recipients,
 * one INSERT of the new logs and one UPDATE of the existing ones; the events apply in memory in order between them.
 */
export const syncCommunications: BatchSyncer = async (tx, items) => {
  const orgId = items[0]?.event.org_id;
  if (!orgId) return [];
  const messages = items.map(({ event, data }) => {
    const messageId = text(data, 'message_id');
    const status = STATUS_BY_TYPE[event.event_type];
    if (!messageId || !status) throw new PermanentSyncError(`cannot apply ${event.event_type} without a message_id`);
    return { event, data, messageId, status };
  });
  const logs = await lockCommunicationLogs(tx, orgId, [...new Set(messages.map((m) => m.messageId))]);
  const stored = new Set(logs.keys());
  const written = new Map<string, CommunicationLogRow>();
  const results = messages.map(({ event, data, messageId, status }): SyncResult => {
    const existing = logs.get(messageId);
    if (existing && isOlder(event.event_timestamp, existing.last_event_at)) return stale();
    const recipient = text(data, 'recipient') ?? existing?.recipient;
    const template = text(data, 'template') ?? existing?.template;
    if (!recipient || !template) throw new PermanentSyncError(`cannot record message ${messageId} without a recipient and a template`);
    const deliveryTime = data['delivery_time_ms'];
    const log: CommunicationLogRow = {
      id: existing?.id ?? randomUUID(),
      org_id: orgId,
      message_id: messageId,
      recipient,
      template,
      status,
      user_id: null,
      delivery_time_ms: typeof deliveryTime === 'number' ? Math.round(deliveryTime) : (existing?.delivery_time_ms ?? null),
      bounce_reason: text(data, 'bounce_reason') ?? existing?.bounce_reason ?? null,
      bounce_type: text(data, 'bounce_type') ?? existing?.bounce_type ?? null,
      failure_reason: text(data, 'failure_reason') ?? existing?.failure_reason ?? null,
      esp_message_id: text(data, 'esp_message_id') ?? existing?.esp_message_id ?? null,
      last_event_at: event.event_timestamp,
    };
    logs.set(messageId, log);
    written.set(messageId, log);
    return {
      outcome: 'processed',
      audits: [{ action: 'integration.communication.synced', targetType: 'communication_log', targetId: log.id, metadata: { message_id: messageId, status } }],
    };
  });
  const changed = [...written.values()];
  const userIds = await recipientUserIds(tx, orgId, changed.map((log) => log.recipient));
  for (const log of changed) log.user_id = userIds.get(log.recipient.toLowerCase()) ?? null;
  await insertCommunicationLogs(tx, changed.filter((log) => !stored.has(log.message_id)));
  await updateCommunicationLogs(tx, changed.filter((log) => stored.has(log.message_id)));
  return results;
};
