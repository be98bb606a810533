export type { Principal } from '@saas/rbac';
export * from './keys';
export * from './signer';
export * from './token-state';
export * from './authenticator';
export * from './secret-box';
