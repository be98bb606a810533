import { UniqueConstraintError } from 'sequelize';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

export function isUniqueViolation(err: unknown): err is UniqueConstraintError {
  return err instanceof UniqueConstraintError;
}

/** The index or constraint a unique violation hit, e.g. `users_email_key`. */
export function uniqueConstraintName(err: UniqueConstraintError): string | undefined {
  const original = err.parent as unknown as { constraint?: string };
  return original?.constraint;
}
