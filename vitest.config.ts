import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['extensions/**/src/**/*.test.ts', 'tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './tests/support/summary-reporter.ts'],
  },
});
