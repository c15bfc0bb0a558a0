import { defineConfig } from 'vitest/config';

// ASP_TEST_BACKEND=embedded (default) or server (with TEST_DATABASE_URL) picks the database
// every SQL test runs on; .ci/run runs the whole suite once per back end.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Structured logs go to stderr; keep test output to what failed.
    env: { LOG_LEVEL: 'warn' },
  },
});
