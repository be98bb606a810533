import 'express';

declare global {
  namespace Express {
    interface Request {
      /** The unparsed body, kept for signature verification. */
      rawBody?: Buffer;
    }
  }
}
