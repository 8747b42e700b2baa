import '@allot/protocol/polyfill'
import { runCli } from './program.js'

process.exitCode = await runCli(process.argv)
