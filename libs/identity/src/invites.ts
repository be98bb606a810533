import { createHash, randomBytes } from 'node:crypto';
import { consumeUsableInvites, findUsableInvite, findUser, insertInvite, lockUser, revokeUnusedInvites, type Transaction, type User } from '@saas/db';
import { IdentityRefusal } from './refusals';

export interface IssuedInvite {
  invite_token: string;
  expires_at: string;
}

/** Invite tokens are stored only as their SHA-256: a 256-bit random token needs no slow hash. */
export const hashInviteToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** Revokes the user's unused invites (marks them used) so only the newest can activate the account. */
export async function revokeInvites(tx: Transaction, userId: string): Promise<void> {
  await revokeUnusedInvites(tx, userId);
}

/** Issues a single-use, expiring invite for a pending user; the token is returned once and never stored. */
export async function issueInvite(tx: Transaction, user: User, ttlHours: number, createdBy: string | null): Promise<IssuedInvite> {
  await revokeInvites(tx, user.id);
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + ttlHours * 3600_000);
  await insertInvite(tx, { org_id: user.org_id, user_id: user.id, token_hash: hashInviteToken(token), expires_at: expiresAt, created_by: createdBy });
  return { invite_token: token, expires_at: expiresAt.toISOString() };
}

const invalidInvite = () => new IdentityRefusal('bad_request', 'invalid_invite', 'The invite token is invalid, used or expired');

/** The invited user if still pending; otherwise the same 400 as for an unusable token. */
async function pendingInvitee(tx: Transaction, userId: string | undefined, lock: boolean): Promise<User> {
  const user = userId ? await (lock ? lockUser(tx, userId) : findUser(tx, userId)) : null;
  if (!user || user.status !== 'pending') throw invalidInvite();
  return user;
}

/**
 * Answers 400 as `consumeInvite` would, reading only (no write, no lock): lets an activation refuse an unusable token
 * before paying for the new password's hash. A pre-check only: the invite can still be used or revoked afterwards, so
 * `consumeInvite` stays the authority.
 */
export async function assertInviteUsable(tx: Transaction, token: string): Promise<void> {
  const invite = await findUsableInvite(tx, hashInviteToken(token));
  await pendingInvitee(tx, invite?.user_id, false);
}

/**
 * Consumes an invite atomically (one UPDATE: of two concurrent activations exactly one wins) and returns its pending
 * user, locked. A used, unknown or expired token, or a user no longer pending, answers 400. Needs a system transaction:
 * the token is all the caller has.
 */
export async function consumeInvite(tx: Transaction, token: string): Promise<User> {
  const [count, rows] = await consumeUsableInvites(tx, hashInviteToken(token));
  return pendingInvitee(tx, count === 1 ? rows[0]?.user_id : undefined, true);
}
