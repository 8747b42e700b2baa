#!/usr/bin/env node
// The `allot` bin: runs the TypeScript CLI through tsx (the workspace runs from source; see docs/build.md).
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const here = dirname(fileURLToPath(import.meta.url))
const tsx = require.resolve('tsx')
const main = join(here, '..', 'src', 'cli', 'main.ts')
const r = spawnSync(process.execPath, ['--import', tsx, main, ...process.argv.slice(2)], { stdio: 'inherit' })
process.exit(r.status ?? 2)
