import { Joi } from '@saas/config';
import { isUuid } from '@saas/db';
import { newPasswordSchema } from '@saas/identity';

export { newPasswordSchema };

export const email = Joi.string().trim().email({ tlds: false }).max(254).lowercase();
export const uuid = Joi.string().custom((value: string, helpers) => (isUuid(value) ? value.toLowerCase() : helpers.error('string.guid'))).messages({
  'string.guid': '{{#label}} must be a UUID',
});
const profileText = (max: number) => Joi.string().trim().max(max).allow(null, '');

export const profileFields = {
  first_name: profileText(100),
  last_name: profileText(100),
  department: profileText(100),
  title: profileText(100),
};

export const idParams = Joi.object({ id: uuid.required() });

export { limitParam as limit } from '@saas/db';
export const since = Joi.date().iso();

const timestamp = Joi.string().isoDate().allow(null);
const nullableString = Joi.string().allow(null);

export const userResource = Joi.object({
  id: Joi.string().required(),
  org_id: nullableString.required(),
  email: Joi.string().required(),
  first_name: nullableString,
  last_name: nullableString,
  role: Joi.string().valid('superadmin', 'admin', 'user').required(),
  status: Joi.string().valid('pending', 'active', 'suspended', 'inactive').required(),
  department: nullableString,
  title: nullableString,
  external_id: nullableString,
  created_at: timestamp,
  updated_at: timestamp,
}).label('User');

export const orgResource = Joi.object({
  id: Joi.string().required(),
  name: Joi.string().required(),
  slug: Joi.string().required(),
  status: Joi.string().valid('active', 'suspended', 'deleted').required(),
  directory_links_existing_users: Joi.boolean().required(),
  created_at: timestamp,
  updated_at: timestamp,
}).label('Organization');

export const auditResource = Joi.object({
  id: Joi.string().required(),
  org_id: nullableString.required(),
  actor_type: Joi.string().valid('user', 'system').required(),
  actor_id: nullableString,
  action: Joi.string().required(),
  target_type: nullableString,
  target_id: nullableString,
  request_id: nullableString,
  ip: nullableString,
  metadata: Joi.object().unknown(true),
  created_at: timestamp,
  prev_hash: Joi.string().required(),
  hash: Joi.string().required(),
}).label('AuditEntry');

export const tokenResponse = Joi.object({
  access_token: Joi.string().required(),
  token_type: Joi.string().valid('bearer').required(),
  expires_in: Joi.number().integer().required(),
}).label('AccessToken');

export const inviteResponse = Joi.object({ invite_token: Joi.string().required(), expires_at: Joi.string().isoDate().required() }).label('Invite');

export const page = (item: Joi.Schema, label: string) => Joi.object({ items: Joi.array().items(item).required(), next_cursor: Joi.string().allow(null).required() }).label(label);

/** Problem responses a bearer route can give besides its own. */
export const authProblems = {
  401: { description: 'Missing, invalid, expired or revoked access token' },
  403: { description: "The caller's role never allows this action" },
};
export const notFound = { 404: { description: 'No such resource visible to the caller (malformed ids included)' } };
export const invalid = { 422: { description: 'Invalid request (unknown fields are listed)' } };
