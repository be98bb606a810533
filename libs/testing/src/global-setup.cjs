// Jest globalSetup (plain CJS; ts sources are loaded through the per-run helper compiled by swc).
require('./register-ts.cjs');
module.exports = require('./test-run.ts').setupTestRun;
