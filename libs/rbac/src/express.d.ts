import 'express';
import type { Principal } from './principal';

declare global {
  namespace Express {
    interface Request {
      /** Set by the authenticator (@saas/auth) on a request with valid credentials. */
      principal?: Principal;
    }
  }
}
