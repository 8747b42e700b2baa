import { defineConfig } from 'vitest/config'

// The workspace's packages export their TypeScript sources under the `allot-source` condition (and
// the compiled dist/ otherwise): tests run the sources, with no build in between (docs/build.md).
const conditions = ['allot-source', 'module', 'node', 'development|production']

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
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
