import '@allot/protocol/polyfill'
import { runCli } from './program.js'

// `allot … | head`: the reader went away; stop quietly instead of dying on an unhandled EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw e
  })
}

process.exitCode = await runCli(process.argv)
