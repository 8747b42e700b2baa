#!/usr/bin/env node
// The `allot` bin: the compiled, bundled CLI (dist/cli-bundle/, emitted by `pnpm install` and `pnpm build`,
// docs/build.md), run in this same process so that signals (Ctrl-C, `kill`, `docker stop`) reach it.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const main = new URL('../dist/cli-bundle/main.js', import.meta.url)
if (!existsSync(fileURLToPath(main))) {
  process.stderr.write(
    'error: CLI_NOT_BUILT: the allot CLI is not compiled yet (packages/node/dist/cli-bundle): run `pnpm build`\n',
  )
  process.exit(2)
}
await import(main.href)
