// Fault injection (issue 7): services as real processes, killed and restarted; not part of `npm test`
// (the file is not named jest.config.*, so the Nx jest plugin infers no `test` target, and its files are *.fault.ts,
// which the default testMatch ignores). Run: `npm run test:faults` (= npx nx run fault-tests:faults).
module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: require('./project.json').name,
  rootDir: __dirname,
  testMatch: ['**/*.fault.ts'],
  testTimeout: 600000,
  maxWorkers: 1,
};
