require('./register-ts.cjs');
module.exports = require('./test-run.ts').teardownTestRun;
