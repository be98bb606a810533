import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import { Organization, User, type Database, type OrgStatus, type Role, type UserStatus } from '@saas/db';

export const unique = (label = 'x') => `${label}-${randomBytes(4).toString('hex')}`;

export async function createOrg(db: Database, overrides: Partial<{ name: string; slug: string; status: OrgStatus }> = {}): Promise<Organization> {
  const slug = overrides.slug ?? unique('org');
  return db.asSystem('test fixture', (transaction) =>
    Organization.create({ name: overrides.name ?? `Org ${slug}`, slug, status: overrides.status ?? 'active' }, { transaction }),
  );
}

export interface UserFixture {
  orgId?: string | null;
  role?: Role;
  status?: UserStatus;
  email?: string;
  password?: string | null;
  externalId?: string;
}

export const DEFAULT_TEST_PASSWORD = 'correct-horse-battery';

export async function createUser(db: Database, fixture: UserFixture = {}): Promise<User> {
  const role = fixture.role ?? 'user';
  const password = fixture.password === undefined ? DEFAULT_TEST_PASSWORD : fixture.password;
  return db.asSystem('test fixture', async (transaction) =>
    User.create(
      {
        org_id: role === 'superadmin' ? null : fixture.orgId,
        email: fixture.email ?? `${unique(role)}@example.test`,
        password_hash: password === null ? null : await bcrypt.hash(password, 4),
        role,
        status: fixture.status ?? 'active',
        first_name: 'Test',
        last_name: role,
        external_id: fixture.externalId ?? null,
      },
      { transaction },
    ),
  );
}
