/** How a refusal reads at the edge: identity-service gives each kind its HTTP status (src/refusals.ts there). */
export type RefusalKind = 'bad_request' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'invalid';

/**
 * An identity rule refused the operation: a stable code clients branch on and a sentence for people, with no HTTP
 * in it. Thrown inside a transaction, it rolls the transaction back like any error.
 */
export class IdentityRefusal extends Error {
  constructor(
    readonly kind: RefusalKind,
    readonly code: string,
    readonly detail: string,
    /** For `invalid`: the offending fields. */
    readonly fields: { path: string; message: string }[] = [],
  ) {
    super(detail);
    this.name = 'IdentityRefusal';
  }
}
