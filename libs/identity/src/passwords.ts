import bcrypt from 'bcrypt';
import { Joi } from '@saas/config';

export const PASSWORD_MIN_BYTES = 8;
/** bcrypt reads at most 72 bytes: a longer password is refused, never silently truncated. */
export const PASSWORD_MAX_BYTES = 72;

const byteLength = (min: number) =>
  Joi.string()
    .custom((value: string, helpers) => {
      const bytes = Buffer.byteLength(value, 'utf8');
      return bytes < min || bytes > PASSWORD_MAX_BYTES ? helpers.error('password.bytes', { min }) : value;
    })
    .messages({ 'password.bytes': `{{#label}} must be {{#min}} to ${PASSWORD_MAX_BYTES} bytes long` });

/** A new password: 8–72 bytes (UTF-8). */
export const newPasswordSchema = byteLength(PASSWORD_MIN_BYTES);
/** A password presented to log in: any length bcrypt can compare without truncating. */
export const presentedPasswordSchema = byteLength(1);

export function hashPassword(password: string, cost: number): Promise<string> {
  return bcrypt.hash(password, cost);
}

/**
 * Compares in the same time whether or not there is a hash: with none (unknown email, no password set) the
 * password is compared against a dummy hash of the same cost, so response time does not reveal which case it was.
 */
export function createPasswordVerifier(cost: number): (password: string, hash: string | null | undefined) => Promise<boolean> {
  const dummy = bcrypt.hashSync('timing-equalizer-not-a-password', cost);
  return async (password, hash) => {
    const matches = await bcrypt.compare(password, hash ?? dummy);
    return Boolean(hash) && matches;
  };
}
