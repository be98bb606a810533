import bcrypt from 'bcrypt';
import { findUserByEmail, insertUser, type Database } from '@saas/db';
import { audit } from './actor';

export interface SuperadminSeed {
  email: string;
  password: string;
  bcryptCost: number;
}

/**
 * Creates the platform superadmin from configuration (SUPERADMIN_EMAIL / SUPERADMIN_PASSWORD) when no user has that
 * email yet, audited in the platform chain. Idempotent: an existing superadmin is left as it is (its password too).
 * An existing user of an organization with that email is a configuration error.
 */
export async function ensureSuperadmin(db: Database, seed: SuperadminSeed): Promise<'created' | 'exists'> {
  const email = seed.email.toLowerCase();
  const passwordHash = await bcrypt.hash(seed.password, seed.bcryptCost);
  return db.asSystem('bootstrap superadmin', async (transaction) => {
    const existing = await findUserByEmail(transaction, email);
    if (existing) {
      if (existing.role !== 'superadmin') throw new Error(`SUPERADMIN_EMAIL ${email} belongs to a user of an organization, not to a superadmin`);
      return 'exists';
    }
    const user = await insertUser(transaction, {
      email,
      password_hash: passwordHash,
      role: 'superadmin',
      status: 'active',
      org_id: null,
      first_name: 'Platform',
      last_name: 'Superadmin',
    });
    await audit(transaction, { actorType: 'system', actorId: null }, {
      orgId: null,
      action: 'user.created',
      targetType: 'user',
      targetId: user.id,
      metadata: { email, role: 'superadmin', bootstrap: true },
    });
    return 'created';
  });
}
