const nx = require('@nx/eslint-plugin');

/** Layering: apps → features → data access → utilities; scopes keep services from reaching into each other. */
function boundaries({ appsMayUseTesting }) {
  const appDeps = ['type:feature', 'type:data-access', 'type:util', ...(appsMayUseTesting ? ['type:testing'] : [])];
  return [
    'error',
    {
      allow: [],
      depConstraints: [
        { sourceTag: 'type:app', onlyDependOnLibsWithTags: appDeps },
        { sourceTag: 'type:feature', onlyDependOnLibsWithTags: ['type:feature', 'type:data-access', 'type:util'] },
        { sourceTag: 'type:data-access', onlyDependOnLibsWithTags: ['type:data-access', 'type:util'] },
        { sourceTag: 'type:util', onlyDependOnLibsWithTags: ['type:util'] },
        { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:testing', 'type:feature', 'type:data-access', 'type:util'] },
        { sourceTag: 'scope:gateway', onlyDependOnLibsWithTags: ['scope:shared'] },
        { sourceTag: 'scope:identity', onlyDependOnLibsWithTags: ['scope:shared', 'scope:identity'] },
        { sourceTag: 'scope:integrations', onlyDependOnLibsWithTags: ['scope:shared', 'scope:integrations', 'scope:identity'] },
        { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
      ],
    },
  ];
}

const testFiles = ['**/*.spec.ts', '**/*.spec-helper.ts', 'apps/*/test/**/*.ts', 'bench/**/*.ts', 'tests/**/*.ts'];

module.exports = [
  { ignores: ['**/dist', '**/node_modules', '**/.nx', '**/tmp', '**/coverage', '**/*.cjs', '**/*.mjs'] },
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  {
    files: ['**/*.ts'],
    rules: {
      '@nx/enforce-module-boundaries': boundaries({ appsMayUseTesting: false }),
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests of an app use the shared test support (fixtures, isolated config); production code never does.
    files: testFiles,
    rules: {
      '@nx/enforce-module-boundaries': boundaries({ appsMayUseTesting: true }),
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
];
