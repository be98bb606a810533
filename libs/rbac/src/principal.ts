export type PrincipalRole = 'superadmin' | 'admin' | 'user';

/** The authenticated caller, as the authenticator established it from a verified token and the user's current state. */
export interface Principal {
  userId: string;
  /** `null` for a superadmin, who belongs to no organization. */
  orgId: string | null;
  role: PrincipalRole;
  /** The token's `jti`. */
  tokenId: string;
}
