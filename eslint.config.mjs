import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'test-results/**', 'docs/api/**', 'slice86-demo/**'] },
  eslint.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.strictTypeChecked, tseslint.configs.stylisticTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Bit-twiddling device code formats numbers into hex strings all the time.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // Device interfaces fix their parameter lists; a leading underscore marks one a device ignores.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The library core must run in browsers: no Node built-ins outside the Node-only folders.
    files: ['src/**/*.ts'],
    ignores: ['src/node/**', 'src/cli/**'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*'], message: 'src/ outside node/ and cli/ must stay browser-safe' }] }],
    },
  },
  {
    // The interpreter's register file and page caches are typed arrays indexed by decoded 3- and
    // 4-bit fields, so every index is in bounds by construction; and an architectural fault is a
    // CpuFault value (not an Error: no stack capture on a guest #PF), caught at the instruction
    // boundary and never seen outside src/cpu.
    files: ['src/cpu/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/only-throw-error': ['error', { allow: [{ from: 'file', name: 'CpuFault', path: 'src/cpu/faults.ts' }] }],
    },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly' },
    },
  },
);
