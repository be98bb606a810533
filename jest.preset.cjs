// Shared Jest preset: swc for speed (decorators without metadata; models declare DataTypes explicitly),
// tsconfig paths mapped to lib sources, and one isolated database / Redis prefix / RabbitMQ prefix per run.
const path = require('node:path');

const root = __dirname;

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', decorators: true },
          transform: { legacyDecorator: true, decoratorMetadata: true },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@saas/([a-z-]+)$': path.join(root, 'libs/$1/src/index.ts'),
  },
  testMatch: ['**/?(*.)+(spec|test).ts'],
  globalSetup: path.join(root, 'libs/testing/src/global-setup.cjs'),
  globalTeardown: path.join(root, 'libs/testing/src/global-teardown.cjs'),
  testTimeout: 30000,
  // Libraries exercised through the apps' and foundation tests have no spec of their own.
  passWithNoTests: true,
};
