import { parseEnv } from 'node:util';
import { configSchemas, loadConfig } from '@saas/config';
import { readText } from './support/schemas';

type SchemaName = keyof typeof configSchemas;
const APPS = Object.keys(configSchemas) as SchemaName[];

/** Each variable with the default every app's schema gives it (undefined: no plain default, e.g. a secret). */
function schemaVariables(): Map<string, Map<SchemaName, unknown>> {
  const variables = new Map<string, Map<SchemaName, unknown>>();
  for (const app of APPS) {
    const keys = (configSchemas[app].describe().keys ?? {}) as Record<string, { flags?: { default?: unknown } }>;
    for (const [name, description] of Object.entries(keys)) {
      if (!variables.has(name)) variables.set(name, new Map());
      variables.get(name)!.set(app, description.flags?.default);
    }
  }
  return variables;
}

/** Rows of the README's configuration table: `| `NAME` | default | ... |`. */
function readmeTable(): Map<string, string> {
  const readme = readText('README.md');
  const section = /^## Configuration\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  if (!section) throw new Error('README.md has no "## Configuration" section');
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const match = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|([^|]*)\|/.exec(line);
    if (match) {
      if (rows.has(match[1])) throw new Error(`README lists ${match[1]} twice`);
      rows.set(match[1], match[2].trim());
    }
  }
  return rows;
}

const template = () => parseEnv(readText('.env.template')) as Record<string, string>;

describe('configuration documentation', () => {
  const variables = schemaVariables();
  const names = [...variables.keys()].sort();

  it('when the README configuration table is compared with the config schemas, then it lists exactly their variables', () => {
    expect([...readmeTable().keys()].sort()).toEqual(names);
  });

  it('when .env.template is compared with the config schemas, then it lists exactly their variables', () => {
    expect(Object.keys(template()).sort()).toEqual(names);
  });

  it('when .env.template is read, then every variable has a comment of its own right above it', () => {
    const lines = readText('.env.template').split('\n');
    const uncommented = lines.filter((line, i) => /^[A-Z][A-Z0-9_]*=/.test(line) && !lines[i - 1]?.startsWith('#'));
    expect(uncommented).toEqual([]);
  });

  it('when a variable has a default, then the README shows that default', () => {
    const table = readmeTable();
    const wrong: string[] = [];
    for (const [name, defaults] of variables) {
      for (const value of new Set(defaults.values())) {
        if (value === undefined) continue;
        if (!table.get(name)?.includes(`\`${String(value)}\``)) wrong.push(`${name}: README default "${table.get(name)}" does not show \`${String(value)}\``);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('when .env.template sets a value, then it is the default the schemas apply (the template documents, it does not reconfigure)', () => {
    const wrong: string[] = [];
    for (const [name, value] of Object.entries(template())) {
      if (value === '') continue;
      for (const [app, dflt] of variables.get(name) ?? []) {
        if (dflt !== undefined && String(dflt) !== value) wrong.push(`${name}=${value} but ${app} defaults to ${String(dflt)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it.each(APPS)('when %s starts with .env.template as its whole environment, then its configuration is valid', (app) => {
    expect(() => loadConfig(configSchemas[app], template())).not.toThrow();
  });

  it('when .env.template is used with NODE_ENV=production, then the development secrets are refused', () => {
    const env = { ...template(), NODE_ENV: 'production' };
    expect(() => loadConfig(configSchemas['webhook-gateway'], env)).toThrow(/WEBHOOK_SECRET_USER_SERVICE/);
    expect(() => loadConfig(configSchemas['identity-service'], env)).toThrow(/SUPERADMIN_PASSWORD/);
  });
});
