import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // The end-to-end devnet test runs on its own afterwards (vitest.e2e.config.ts): it starts a whole
    // network of processes whose timing should not compete with the other suites for two cores.
    exclude: ['**/node_modules/**', 'test/**/*.e2e.test.ts'],
    setupFiles: ['./vitest.setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Multi-process tests own ports and child processes; two cores: keep files from starving each other.
    maxWorkers: 2,
  },
})
