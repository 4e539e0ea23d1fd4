// typescript-eslint with type-aware rules (see README, Development). Lint
// rules only: no formatting rules (Prettier formats: npm run format).
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tap/**', 'bench/**', 'bin/**', 'eslint.config.js', 'test/coverage-map.mjs'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname } },
    rules: {
      // fastify plugins and handlers are async by contract, with or without an await
      '@typescript-eslint/require-await': 'off',
      // a `let` assigned once, after a closure that reads it was made
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `_name`: a parameter a callback signature needs, or a key left out of a rest copy
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // tests read JSON answers as `any` on purpose
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // tap awaits subtests it is handed; an unawaited t.test() is how tap is written
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafePromises: [{ from: 'package', package: '@tapjs/core', name: 'PromiseWithSubtest' }] }],
    },
  },
)
