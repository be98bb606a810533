import express, { type Router } from 'express';
import helmet from 'helmet';
import swaggerUi from 'swagger-ui-express';

export const DOCS_PATH = '/docs';
export const OPENAPI_PATH = '/openapi.json';

/**
 * Swagger UI over the merged document. Its assets come from this gateway (swagger-ui-dist), so the CSP stays
 * `'self'`-only; what helmet's default forbids and Swagger UI needs is relaxed here only: no
 * `upgrade-insecure-requests` (it would break the page on a plain-HTTP host other than localhost).
 */
export function docsRouter(): Router {
  const options: swaggerUi.SwaggerUiOptions = {
    customSiteTitle: 'SaaS platform API',
    swaggerUrl: OPENAPI_PATH,
    swaggerOptions: {
      // No calls to the public validator service; the token survives a reload of the page.
      validatorUrl: null,
      persistAuthorization: true,
      displayRequestDuration: true,
    },
  };
  const router = express.Router();
  router.use(
    helmet.contentSecurityPolicy({
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        frameAncestors: ["'self'"],
        upgradeInsecureRequests: null,
      },
    }),
  );
  // The page links its assets relatively ("./swagger-ui.css"), which only resolves under the trailing slash.
  router.get('/', (req, res, next) => {
    if (!req.originalUrl.split('?')[0].endsWith('/')) return res.redirect(301, `${DOCS_PATH}/`);
    next();
  });
  // swagger-ui-dist's own demo page and its initializer (which point at the public Petstore) are not served.
  router.get(['/index.html', '/swagger-initializer.js'], (_req, res) => res.redirect(301, `${DOCS_PATH}/`));
  router.use(swaggerUi.serveFiles(undefined, options));
  router.get('/', swaggerUi.setup(null, options));
  return router;
}
