/** A value written into a statement as a literal. */
export type SqlValue = string | number | boolean | null;

/** One SQL statement (or a part of one) whose values are already written in as escaped literals; build it with `sql`. */
export class SqlStatement {
  // Private: only `sql` and `sqlList` build one, so every value in the text went through `literal`.
  private constructor(readonly text: string) {}

  static fromTemplate(strings: TemplateStringsArray, values: (SqlValue | SqlStatement)[]): SqlStatement {
    return new SqlStatement(
      values.reduce<string>((text, value, i) => `${text}${value instanceof SqlStatement ? value.text : literal(value)}${strings[i + 1]}`, strings[0] ?? ''),
    );
  }

  static list(values: SqlValue[]): SqlStatement {
    return new SqlStatement(values.map(literal).join(', '));
  }
}

function literal(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`not a finite number: ${value}`);
    return String(value);
  }
  // The simple-query protocol ends the statement text at a NUL: never let one cut a statement short.
  if (value.includes('\u0000')) throw new TypeError('a NUL character cannot be written into a statement');
  return quoted(value);
}

/**
 * pg's `escapeLiteral` (quotes doubled; with a backslash, backslashes doubled too and an E'' string), with native
 * string replaces instead of its character-by-character concatenation: that loop was 8 % of webhook-gateway's CPU on
 * 100-event batches, whose payloads go into the ingest statement as literals (one-trip.spec checks the equivalence).
 */
function quoted(value: string): string {
  const doubled = value.replaceAll("'", "''");
  return value.includes('\\') ? ` E'${doubled.replaceAll('\\', '\\\\')}'` : `'${doubled}'`;
}

/**
 * A statement for `Database.readForOrg`/`readAsSystem`/`writeAsSystem` from a template: each `${value}` becomes an
 * escaped literal (as pg's `escapeLiteral` writes it), so values never reach the SQL text unquoted; a `${statement}` built the same
 * way is written in as it is. A string compared with a typed column is cast by PostgreSQL: validate its form first
 * (a malformed uuid is a database error, not a 4xx).
 */
export function sql(strings: TemplateStringsArray, ...values: (SqlValue | SqlStatement)[]): SqlStatement {
  return SqlStatement.fromTemplate(strings, values);
}

/** Values as a comma-separated list of literals, e.g. for `ARRAY[${sqlList(ids)}]::uuid[]` or `IN (…)`. */
export function sqlList(values: SqlValue[]): SqlStatement {
  return SqlStatement.list(values);
}
