import { isUniqueViolation, uniqueConstraintName } from '@saas/db';
import { IdentityRefusal } from './refusals';

const UNIQUE_CONFLICTS: Record<string, [code: string, detail: string]> = {
  users_email_key: ['email_taken', 'A user with this email already exists'],
  organizations_slug_key: ['slug_taken', 'An organization with this slug already exists'],
  organizations_name_key: ['name_taken', 'An organization with this name already exists'],
};

/**
 * Runs a write and turns a unique violation into a `conflict` refusal (409 at the edge). Thrown inside the transaction, it rolls everything back:
 * a duplicate writes nothing.
 */
export async function refuseDuplicates<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    const [code, detail] = UNIQUE_CONFLICTS[uniqueConstraintName(err) ?? ''] ?? ['duplicate', 'The resource already exists'];
    throw new IdentityRefusal('conflict', code, detail);
  }
}
