import { existsSync, readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';
import type { ObjectSchema } from 'joi';
import { EMPTY_MEANS_OFF } from './pieces';

const emptyMeansOff = new Set<string>(EMPTY_MEANS_OFF);

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads `.env` (or ENV_FILE) if present; values already in the environment win. */
export function readDotEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const file = env['ENV_FILE'] ?? '.env';
  if (!existsSync(file)) return env;
  const fromFile = parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
  return { ...fromFile, ...env };
}

/**
 * Validates the environment against an app's schema and returns the typed, defaulted values.
 * Every problem is reported at once, each naming its variable, so an operator fixes them in one pass. An empty
 * value counts as unset (the default applies), except for the variables where empty means "off" (EMPTY_MEANS_OFF).
 */
export function loadConfig<T>(schema: ObjectSchema, env: NodeJS.ProcessEnv = readDotEnv()): T {
  const known = Object.keys(schema.describe().keys ?? {});
  const relevant = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => known.includes(key) && value !== undefined && (value !== '' || emptyMeansOff.has(key))),
  );
  const { value, error } = schema.validate(relevant, { abortEarly: false, convert: true });
  if (error) throw new ConfigError(error.details.map((d) => (d.path.length ? `${d.path.join('.')}: ` : '') + d.message.replace(/^"[^"]*" /, '')));
  return value as T;
}
