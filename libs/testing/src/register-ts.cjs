// Loads our TypeScript sources with swc outside Jest (global setup/teardown, and service processes that tests
// spawn from source) and resolves the workspace's `@saas/<lib>` imports to their sources.
const { transformSync } = require('@swc/core');
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

const libsRoot = path.resolve(__dirname, '../..');

if (!Module._extensions['.ts']) {
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    const alias = /^@saas\/([a-z-]+)$/.exec(request);
    return resolve.call(this, alias ? path.join(libsRoot, alias[1], 'src/index.ts') : request, ...rest);
  };
  Module._extensions['.ts'] = (module, filename) => {
    const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
      filename,
      sourceMaps: 'inline',
      jsc: {
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
        target: 'es2022',
      },
      module: { type: 'commonjs' },
    });
    module._compile(code, filename);
  };
}
