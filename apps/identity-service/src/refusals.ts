import { BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '@saas/http';
import { IdentityRefusal } from '@saas/identity';

/** libs/identity's refusals as HTTP problems: the one place where an identity rule meets a status code. */
export function refusalToHttp(err: unknown): unknown {
  if (!(err instanceof IdentityRefusal)) return err;
  switch (err.kind) {
    case 'bad_request':
      return new BadRequestError(err.code, err.detail);
    case 'unauthorized':
      return new UnauthorizedError(err.code, err.detail);
    case 'forbidden':
      return new ForbiddenError(err.code, err.detail);
    case 'not_found':
      return new NotFoundError(err.code, err.detail);
    case 'conflict':
      return new ConflictError(err.code, err.detail);
    case 'invalid':
      return new ValidationError(err.fields, err.detail, err.code);
  }
}
