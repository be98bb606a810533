import type { Express } from 'express';
import type { IdentityServiceConfig } from '@saas/config';
import { createServiceApp, type ServiceRuntime } from '@saas/runtime';
import { createIdentityContext } from './context';
import { refusalToHttp } from './refusals';
import { auditRoutes } from './routes/audit-logs';
import { organizationRoutes } from './routes/organizations';
import { sessionRoutes } from './routes/session';
import { ssoRoutes } from './routes/sso';
import { userRoutes } from './routes/users';
import { wellKnownRoutes } from './routes/well-known';

export function buildIdentityApp(runtime: ServiceRuntime<IdentityServiceConfig>): Express {
  const ctx = createIdentityContext(runtime);
  return createServiceApp(runtime, {
    api: {
      info: { title: 'identity-service', version: '1.0.0', description: 'Authentication, organizations, users, invites and the audit log' },
      // session routes first: `/users/login` and `/users/activate` are not user ids
      routers: [sessionRoutes(ctx), userRoutes(ctx), organizationRoutes(ctx), ssoRoutes(ctx), auditRoutes(ctx), wellKnownRoutes(ctx)],
    },
    errorMap: refusalToHttp,
  });
}
