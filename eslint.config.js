// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/node_modules/**', 'bench/results/**', 'data/**', '**/dist/**', 'apps/console/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', '*.mjs', 'apps/server/bin/*.mjs', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      // node:test's test() and describe() return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', name: ['test', 'describe', 'it', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/no-unnecessary-condition': ['error', { allowConstantLoopConditions: true }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'read configuration through config/ (loadConfig), not process.env',
        },
      ],
    },
  },
  {
    // The pure core: risk logic imports only core/, the contracts and itself — no I/O.
    files: ['apps/server/src/**/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/adapters/**',
                '**/http/**',
                '**/ingest/**',
                '**/storage/**',
                '**/main.ts',
                '**/cli/**',
                '**/config/**',
              ],
              message: 'domain code must not depend on I/O layers',
            },
            {
              group: [
                'kysely',
                'pg',
                '@electric-sql/*',
                'fastify',
                'pino',
                'prom-client',
                'node:fs',
                'node:fs/*',
                'node:net',
                'node:http',
                'node:child_process',
                'node:dgram',
                'node:dns',
              ],
              message: 'domain code is pure: no drivers, frameworks or I/O',
            },
          ],
        },
      ],
    },
  },
  {
    files: [
      'config/**',
      'apps/server/src/config/**',
      'apps/server/bin/**',
      'scripts/**',
      'bench/**',
      'apps/server/test/**',
      '.ci/**',
    ],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
