import { configureAuditCheckpoints } from '@saas/audit';
import { configSchemas, type MigrateConfig } from '@saas/config';
import { Database, ensureDatabase, runMigrations } from '@saas/db';
import { ensureSuperadmin } from '@saas/identity';
import { runService } from '@saas/runtime';

/** Migrations as the owner, then the services' role, then the superadmin: everything `npm start` needs first. */
runService<MigrateConfig>('migrate', configSchemas.migrate, async (config) => {
  const log = (message: string) => process.stdout.write(`migrate: ${message}\n`);
  if (await ensureDatabase(config.DATABASE_ADMIN_URL)) log('database created');
  const applied = await runMigrations({ adminUrl: config.DATABASE_ADMIN_URL, serviceUrl: config.DATABASE_URL, log });
  if (!applied.length) log('schema up to date');
  // the superadmin's creation is audited in the platform chain: its checkpoint is signed with AUDIT_CHECKPOINT_KEY
  configureAuditCheckpoints(config);
  const db = new Database({ url: config.DATABASE_URL, poolMax: 1 });
  try {
    const result = await ensureSuperadmin(db, {
      email: config.SUPERADMIN_EMAIL,
      password: config.SUPERADMIN_PASSWORD,
      bcryptCost: config.BCRYPT_COST,
    });
    log(`superadmin ${config.SUPERADMIN_EMAIL}: ${result}`);
  } finally {
    await db.close();
  }
});
