import { defineConfig } from 'vitest/config'

/** `pnpm test:e2e`: the end-to-end tests, one file at a time, after the rest (`pnpm test` runs both). */
// The workspace's packages export their TypeScript sources under the `allot-source` condition (and
// the compiled dist/ otherwise): tests run the sources, with no build in between (docs/build.md).
const conditions = ['allot-source', 'module', 'node', 'development|production']

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ['test/**/*.e2e.test.ts'],
    setupFiles: ['./vitest.setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 240_000,
    pool: 'forks',
    fileParallelism: false,
  },
})
