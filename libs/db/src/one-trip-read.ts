import { escapeLiteral } from 'pg';

/** A value written into a statement as a literal. */
export type SqlValue = string | number | boolean | null;

/** One SQL statement whose values are already written in as escaped literals; build it with `sql`. */
export class SqlStatement {
  // Private: only `sql` builds one, so every value in the text went through `literal`.
  private constructor(readonly text: string) {}

  static fromTemplate(strings: TemplateStringsArray, values: SqlValue[]): SqlStatement {
    return new SqlStatement(values.reduce<string>((text, value, i) => `${text}${literal(value)}${strings[i + 1]}`, strings[0] ?? ''));
  }
}

function literal(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`not a finite number: ${value}`);
    return String(value);
  }
  return escapeLiteral(value);
}

/**
 * A statement for `Database.readForOrg`/`readAsSystem` from a template: each `${value}` becomes an escaped literal
 * (pg's `escapeLiteral`), so values never reach the SQL text unquoted. A string compared with a typed column is
 * cast by PostgreSQL: validate its form first (a malformed uuid is a database error, not a 4xx).
 */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): SqlStatement {
  return SqlStatement.fromTemplate(strings, values);
}
