import type { RequestHandler } from 'express';
import type { ObjectSchema, Schema, ValidationError as JoiValidationError } from 'joi';
import { NotFoundError, ValidationError, type FieldError } from './errors';
import { refuseForbiddenKeys } from './forbidden-keys';

export interface RequestSchemas {
  /** Path parameters; a value that fails (a malformed id) answers 404, as if the resource did not exist. */
  params?: ObjectSchema;
  query?: ObjectSchema;
  body?: Schema;
}

const JOI_OPTIONS = { abortEarly: false, convert: true, errors: { wrap: { label: false as const } } };

function fieldErrors(segment: string, error: JoiValidationError): FieldError[] {
  return error.details.map((d) => ({
    path: [segment === 'body' ? '' : segment, ...d.path.map(String)].filter(Boolean).join('.') || segment,
    message: d.message,
  }));
}

/**
 * Validates a request's params, query and body against joi schemas (unknown keys are refused: joi objects
 * allow none unless a schema says so) and replaces them with the validated, converted values.
 */
export function validate(schemas: RequestSchemas): RequestHandler {
  return (req, _res, next) => {
    if (schemas.params) {
      const { error, value } = schemas.params.validate(req.params, JOI_OPTIONS);
      if (error) return next(new NotFoundError());
      req.params = value;
    }
    const errors: FieldError[] = [];
    if (schemas.query) {
      const { error, value } = schemas.query.validate({ ...req.query }, JOI_OPTIONS);
      if (error) errors.push(...fieldErrors('query', error));
      else Object.defineProperty(req, 'query', { value, configurable: true, enumerable: true });
    }
    if (schemas.body) {
      const body = req.body === undefined ? {} : req.body;
      // before joi: a forbidden key is refused as such, whatever the schema would say of it
      try {
        refuseForbiddenKeys(body);
      } catch (err) {
        return next(err);
      }
      const { error, value } = schemas.body.validate(body, JOI_OPTIONS);
      if (error) errors.push(...fieldErrors('body', error));
      else req.body = value;
    }
    next(errors.length ? new ValidationError(errors) : undefined);
  };
}
