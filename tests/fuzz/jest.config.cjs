// Property-based fuzzing of the real apps (in-process, port 0) against the run's isolated database; part of `npm test`.
module.exports = { ...require('../../jest.preset.cjs'), displayName: require('./project.json').name, rootDir: __dirname, testTimeout: 180000 };
