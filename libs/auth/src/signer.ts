import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { JwtSignConfig, JwtVerifyConfig } from '@saas/config';
import { loadSigningKey, type SigningKey } from './keys';

export interface TokenSubject {
  id: string;
  org_id: string | null;
  role: string;
  token_version: number;
}

export interface AccessToken {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
}

export interface TokenSigner {
  sign(user: TokenSubject): AccessToken;
  readonly key: SigningKey;
}

/** Signs access tokens (identity-service only): `iss`, `aud`, `sub`, `org_id`, `role`, `ver`, `jti`, `iat`, `exp`. */
export function createTokenSigner(config: JwtSignConfig & JwtVerifyConfig): TokenSigner {
  const key = loadSigningKey(config);
  const ttl = config.ACCESS_TOKEN_TTL_SECONDS;
  return {
    key,
    sign(user) {
      const accessToken = jwt.sign({ org_id: user.org_id, role: user.role, ver: user.token_version }, key.privateKey, {
        algorithm: key.algorithm,
        keyid: key.kid,
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
        subject: user.id,
        jwtid: randomUUID(),
        expiresIn: ttl,
      });
      return { access_token: accessToken, token_type: 'bearer', expires_in: ttl };
    },
  };
}
