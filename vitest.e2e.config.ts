import { defineConfig } from 'vitest/config'

/** `pnpm test:e2e`: the end-to-end tests, one file at a time, after the rest (`pnpm test` runs both). */
export default defineConfig({
  test: {
    include: ['test/**/*.e2e.test.ts'],
    setupFiles: ['./vitest.setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    pool: 'forks',
    fileParallelism: false,
  },
})
