import { randomBytes } from 'node:crypto';
import { Database, Organization, User } from '@saas/db';
import { revokeUserTokens } from './index';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 2 });
afterAll(() => db.close());

describe('revokeUserTokens', () => {
  it("when tokens are revoked inside an organization's transaction, then the user's token version goes up by one", async () => {
    const slug = `tok-${randomBytes(4).toString('hex')}`;
    const user = await db.asSystem('test fixture', async (transaction) => {
      const org = await Organization.create({ name: slug, slug }, { transaction });
      return User.create({ org_id: org.id, email: `${slug}@tokens.test`, role: 'user', status: 'active' }, { transaction });
    });
    await db.forOrg(user.org_id!, (tx) => revokeUserTokens(tx, user.id));
    const after = await db.forOrg(user.org_id!, (transaction) => User.findByPk(user.id, { transaction }));
    expect(after!.token_version).toBe(user.token_version + 1);
  });
});
