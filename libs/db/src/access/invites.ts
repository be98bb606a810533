import { Op } from 'sequelize';
import type { Transaction } from '../database';
import { Invite } from '../models';

// The invites table: every statement on it. Invites are found by the SHA-256 of their token (the token is never stored).

/** Marks the user's unused invites used, so none of them can activate the account any more. */
export async function revokeUnusedInvites(tx: Transaction, userId: string): Promise<void> {
  await Invite.update({ used_at: new Date() }, { where: { user_id: userId, used_at: null }, transaction: tx });
}

export type NewInviteRow = {
  org_id: string | null;
  user_id: string;
  token_hash: string;
  expires_at: Date;
  created_by: string | null;
};

/** Inserts an invite. */
export async function insertInvite(tx: Transaction, values: NewInviteRow): Promise<void> {
  await Invite.create(values, { transaction: tx });
}

/** The invite of a token that can still activate its user: not used, not expired. */
const usableInvite = (tokenHash: string) => ({ token_hash: tokenHash, used_at: null, expires_at: { [Op.gt]: new Date() } });

/** The user id of the usable invite with this token hash (reading only: no write, no lock); null when there is none. */
export function findUsableInvite(tx: Transaction, tokenHash: string): Promise<Pick<Invite, 'user_id'> | null> {
  return Invite.findOne({ attributes: ['user_id'], where: usableInvite(tokenHash), transaction: tx });
}

/**
 * Marks the usable invites with this token hash used in one UPDATE (of two concurrent consumers exactly one changes
 * the row) and returns how many it marked, with their rows.
 */
export function consumeUsableInvites(tx: Transaction, tokenHash: string): Promise<[number, Invite[]]> {
  return Invite.update({ used_at: new Date() }, { where: usableInvite(tokenHash), returning: true, transaction: tx });
}
