import 'reflect-metadata';

export * from './models';
export * from './database';
export { sql, sqlList, type SqlStatement, type SqlValue } from './one-trip';
export { runMigrations, ensureDatabase, type MigrateOptions } from './migrate';
export { migrations, TENANT_TABLES } from './migrations';
export { isUniqueViolation, isUuid, uniqueConstraintName } from './errors';
export * from './pagination';
export { execute, runBeforeNextStatement, selectEach, selectRows } from './raw-sql';
export * from './access';
