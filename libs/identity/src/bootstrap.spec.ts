import { randomBytes } from 'node:crypto';
import bcrypt from 'bcrypt';
import { AuditLog, Database, Organization, User } from '@saas/db';
import { ensureSuperadmin } from './index';

const db = new Database({ url: process.env['DATABASE_URL']!, poolMax: 2 });
afterAll(() => db.close());

const seed = (email: string, password = 'Bootstrap-Password-1') => ({ email, password, bcryptCost: 4 });
const usersWith = (email: string) => db.asSystem('test assertion', (transaction) => User.findAll({ where: { email }, transaction }));

describe('ensureSuperadmin', () => {
  it('when run twice (the second time with another password and in another case), then one superadmin exists, created once, with the first password', async () => {
    const email = `root-${randomBytes(4).toString('hex')}@example.test`;
    expect(await ensureSuperadmin(db, seed(email))).toBe('created');
    expect(await ensureSuperadmin(db, seed(email.toUpperCase(), 'Another-Password-2'))).toBe('exists');
    const [user, ...others] = await usersWith(email);
    expect(others).toEqual([]);
    expect(user).toMatchObject({ role: 'superadmin', status: 'active', org_id: null });
    expect(await bcrypt.compare('Bootstrap-Password-1', user!.password_hash!)).toBe(true);
    const entries = await db.asSystem('test assertion', (transaction) => AuditLog.findAll({ where: { target_id: user!.id }, transaction }));
    expect(entries.map((e) => [e.action, e.org_id, e.actor_type])).toEqual([['user.created', null, 'system']]);
  });

  it('when the email contains LIKE wildcards, then only that exact email counts as existing', async () => {
    const tag = randomBytes(4).toString('hex');
    expect(await ensureSuperadmin(db, seed(`ab${tag}@example.test`))).toBe('created');
    expect(await ensureSuperadmin(db, seed(`a_${tag}@example.test`))).toBe('created');
  });

  it("when the email belongs to an organization's user, then bootstrap refuses naming SUPERADMIN_EMAIL", async () => {
    const slug = `boot-${randomBytes(4).toString('hex')}`;
    const email = `${slug}@example.test`;
    await db.asSystem('test fixture', async (transaction) => {
      const org = await Organization.create({ name: slug, slug }, { transaction });
      await User.create({ org_id: org.id, email, role: 'admin', status: 'active' }, { transaction });
    });
    await expect(ensureSuperadmin(db, seed(email))).rejects.toThrow(/SUPERADMIN_EMAIL/);
  });
});
