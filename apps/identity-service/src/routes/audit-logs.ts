import type { RequestHandler } from 'express';
import { verifyAllAuditChains, verifyAuditChain } from '@saas/audit';
import { Joi } from '@saas/config';
import { keysetCursor, keysetOf, listAuditEntriesBySeq, listAuditEntriesInRange, pageOf, seqCursor, type AuditLogFilter, type KeysetCursor } from '@saas/db';
import { ApiRouter } from '@saas/http';
import { toAuditResource } from '@saas/identity';
import { authorize, resolveOrgScope } from '@saas/rbac';
import { principalOf, type IdentityContext } from '../context';
import { auditResource, authProblems, invalid, limit, page, uuid } from '../schemas';

const listQuery = Joi.object({
  org_id: uuid,
  action: Joi.string().max(100),
  actor_id: Joi.string().max(100),
  target_type: Joi.string().max(100),
  target_id: Joi.string().max(100),
  since: Joi.date().iso(),
  until: Joi.date().iso(),
  limit,
  // a time range is walked newest first by (created_at, id), which an index serves at any size; otherwise by seq
  cursor: Joi.when('since', { is: Joi.exist(), then: keysetCursor, otherwise: Joi.when('until', { is: Joi.exist(), then: keysetCursor, otherwise: seqCursor }) }),
});

interface ListQuery {
  org_id?: string;
  action?: string;
  actor_id?: string;
  target_type?: string;
  target_id?: string;
  since?: Date;
  until?: Date;
  limit: number;
  cursor?: string | KeysetCursor;
}

const verification = Joi.object({
  valid: Joi.boolean().required(),
  entries_checked: Joi.number().integer().required(),
  legacy_entries: Joi.number().integer().description('entries appended before checkpoints existed (before their chain’s first checkpoint): hash-checked only; absent when none'),
  first_invalid_id: Joi.string().description('the first entry that fails; absent when valid, or when the entries end before the checkpoints do (the newest entries were removed)'),
}).label('AuditVerification');

export function auditRoutes(ctx: IdentityContext): ApiRouter {
  const { db } = ctx.runtime;
  const { authenticate } = ctx;

  const list: RequestHandler = async (req, res) => {
    const query = req.query as unknown as ListQuery;
    const scope = resolveOrgScope(principalOf(req), query.org_id);
    const filter: AuditLogFilter = { orgId: scope ?? undefined, action: query.action, actor_id: query.actor_id, target_type: query.target_type, target_id: query.target_id };
    const reason = 'a superadmin reads the audit log of every organization';
    if (query.since || query.until) {
      const rows = await db.withOrgScope(scope, reason, (tx) =>
        listAuditEntriesInRange(tx, filter, query.since, query.until, query.cursor as KeysetCursor | undefined, query.limit),
      );
      res.json(pageOf(rows, query.limit, keysetOf, toAuditResource));
      return;
    }
    const rows = await db.withOrgScope(scope, reason, (tx) => listAuditEntriesBySeq(tx, filter, query.cursor as string | undefined, query.limit));
    res.json(pageOf(rows, query.limit, (entry) => entry.seq, toAuditResource));
  };

  const verify: RequestHandler = async (req, res) => {
    const { org_id: requested } = req.query as { org_id?: string };
    const scope = resolveOrgScope(principalOf(req), requested);
    const result = await db.withOrgScope(scope, 'a superadmin verifies every audit chain', (tx) =>
      scope ? verifyAuditChain(tx, scope) : verifyAllAuditChains(tx),
    );
    res.json(result);
  };

  const common = { tags: ['audit'], security: 'bearer' as const };
  return new ApiRouter()
    .add({
      ...common,
      method: 'get',
      path: '/audit-logs',
      summary: 'Audit entries, newest first: by seq, or by (created_at, id) within since/until (superadmin: every organization, or ?org_id=)',
      guards: [authenticate, authorize('audit:read')],
      request: { query: listQuery },
      responses: { 200: { description: 'A page of entries', schema: page(auditResource, 'AuditPage') }, ...authProblems, ...invalid },
      handler: list,
    })
    .add({
      ...common,
      method: 'get',
      path: '/audit-logs/verify',
      summary: 'Recompute the hash chain, check every entry is covered by a keyed checkpoint, and report the first entry that does not match',
      guards: [authenticate, authorize('audit:verify')],
      request: { query: Joi.object({ org_id: uuid }) },
      responses: { 200: { description: 'The verification', schema: verification }, ...authProblems, ...invalid },
      handler: verify,
    });
}
