// Development only (docker-compose `keys` step): writes an RS256 key pair into <dir> unless one is there.
// Production passes JWT_PRIVATE_KEY / JWT_PUBLIC_KEY from a secret instead.
const { generateKeyPairSync } = require('node:crypto');
const { existsSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.argv[2] || process.env.JWT_KEYS_DIR || '.keys';
const privatePath = join(dir, 'jwt-private.pem');
if (existsSync(privatePath)) {
  process.stdout.write(`keys: ${privatePath} exists, kept\n`);
} else {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  writeFileSync(privatePath, privateKey, { mode: 0o600 });
  writeFileSync(join(dir, 'jwt-public.pem'), publicKey, { mode: 0o644 });
  process.stdout.write(`keys: generated ${dir}/jwt-private.pem and jwt-public.pem\n`);
}
