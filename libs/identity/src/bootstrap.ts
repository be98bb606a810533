import bcrypt from 'bcrypt';
import { Op } from 'sequelize';
import { User, type Database } from '@saas/db';

export interface SuperadminSeed {
  email: string;
  password: string;
  bcryptCost: number;
}

/** Creates the platform superadmin from configuration when no user has that email yet. Idempotent. */
export async function ensureSuperadmin(db: Database, seed: SuperadminSeed): Promise<'created' | 'exists'> {
  return db.asSystem('bootstrap superadmin', async (transaction) => {
    const email = seed.email.toLowerCase();
    const existing = await User.findOne({ where: { email: { [Op.iLike]: email } }, transaction });
    if (existing) return 'exists';
    await User.create(
      {
        email,
        password_hash: await bcrypt.hash(seed.password, seed.bcryptCost),
        role: 'superadmin',
        status: 'active',
        org_id: null,
        first_name: 'Platform',
        last_name: 'Superadmin',
      },
      { transaction },
    );
    return 'created';
  });
}
