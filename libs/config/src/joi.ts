// One Joi instance for config, route validation and contracts (celebrate 16 is ESM-only, which Jest's CommonJS
// runtime cannot load untransformed, so routes validate with joi directly through @saas/http's `validate`).
import Joi from 'joi';

export { Joi };
