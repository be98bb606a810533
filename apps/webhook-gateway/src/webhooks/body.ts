import express, { type RequestHandler } from 'express';
import { BadRequestError, mayHoldForbiddenKey, refuseForbiddenKeys, UnsupportedMediaTypeError } from '@saas/http';

/** Deepest nesting of arrays and objects a signed webhook body may have (docs/WEBHOOKS.md "Bounded work"). */
export const MAX_JSON_DEPTH = 64;

const JSON_TYPES = ['application/json', 'application/*+json'];
const OPEN_OBJECT = 0x7b; // {
const OPEN_ARRAY = 0x5b; // [
const CLOSE_OBJECT = 0x7d; // }
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c;

/**
 * The raw body, read up to `limitBytes` (larger → 413) into `req.body` as a Buffer, without parsing: a webhook's
 * signature is checked over these bytes before any JSON parse. Only JSON bodies are read (else 415, after
 * `onRefused`), in UTF-8.
 */
export function readRawJsonBody(limitBytes: number, onRefused: () => void): RequestHandler[] {
  const requireJson: RequestHandler = (req, _res, next) => {
    const charset = /;\s*charset=("?)([^";]+)\1/i.exec(req.headers['content-type'] ?? '')?.[2]?.toLowerCase();
    if (req.is(JSON_TYPES) && (charset === undefined || charset === 'utf-8' || charset === 'utf8')) return next();
    onRefused();
    next(new UnsupportedMediaTypeError());
  };
  return [requireJson, express.raw({ type: () => true, limit: limitBytes })];
}

/**
 * Whether arrays and objects nest deeper than `maxDepth` in a JSON text: one pass over its bytes, strings skipped,
 * stopping at the first level too deep. Malformed text is the parser's to refuse; this only bounds its work.
 */
export function nestsDeeperThan(raw: Buffer, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i];
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (byte === OPEN_OBJECT || byte === OPEN_ARRAY) {
      if (++depth > maxDepth) return true;
    } else if (byte === CLOSE_OBJECT || byte === CLOSE_ARRAY) depth--;
  }
  return false;
}

/**
 * A verified body as JSON: an object or an array (as express.json's strict mode), nested at most MAX_JSON_DEPTH
 * levels; else 400 (`body_too_deep`, `malformed_json`). A key `__proto__`, `constructor` or `prototype` anywhere
 * answers 422 `forbidden_key` (looked for only when the bytes mention one).
 */
export function parseVerifiedJson(raw: Buffer): unknown {
  const value = parseJson(raw);
  if (mayHoldForbiddenKey(raw)) refuseForbiddenKeys(value);
  return value;
}

function parseJson(raw: Buffer): unknown {
  if (nestsDeeperThan(raw, MAX_JSON_DEPTH)) {
    throw new BadRequestError('body_too_deep', `The body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  }
  const text = raw.toString('utf8');
  const first = /\S/.exec(text)?.[0];
  if (first === '{' || first === '[') {
    try {
      return JSON.parse(text);
    } catch {
      // answered below
    }
  }
  throw new BadRequestError('malformed_json', 'The request body is not valid JSON');
}
