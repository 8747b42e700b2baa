import '@allot/protocol/polyfill'
import { keccakReady } from '@allot/protocol'
import { runCli } from './program.js'

await keccakReady()

process.exitCode = await runCli(process.argv)
