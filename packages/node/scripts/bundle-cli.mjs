// Build step (after `tsc -b`): bundles the CLI with esbuild into dist/cli-bundle/ (docs/build.md).
// Loading ~550 separate ES modules (libp2p's graph) costs a CLI call 1–3 s on this machine; the same
// code as a few bundled chunks loads 4–8× faster. Each command group stays its own chunk (esbuild
// splits at the CLI's dynamic imports), so `allot --help` still loads no command's code.
// Plain JavaScript, so it runs without tsx.
import { copyFileSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { build } from 'esbuild'

const pkg = join(import.meta.dirname, '..')
const out = join(pkg, 'dist', 'cli-bundle')
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
await build({
  entryPoints: {
    main: join(pkg, 'src', 'cli', 'main.ts'),
    // The backtest's replay workers run this file beside the code that starts them (backtest/replay.ts).
    'replay-worker': join(pkg, '..', 'backtest', 'src', 'replay-worker.mjs'),
  },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // The workspace packages from their sources: one compile, whatever dist/ holds.
  conditions: ['allot-source'],
  // Native addons, packages that locate files beside themselves, and development tools stay
  // ordinary imports, resolved from packages/node/node_modules at run time.
  external: [
    'level',
    'classic-level',
    'secp256k1',
    'solc',
    '@foundry-rs/anvil',
    'pino',
    'prom-client',
    'tsx',
  ],
  // Bundled CommonJS calls require(); an ES module has none of its own.
  banner: {
    js: "import { createRequire as __allotCreateRequire } from 'node:module'; const require = __allotCreateRequire(import.meta.url);",
  },
  sourcemap: true,
  logLevel: 'warning',
})
renameSync(join(out, 'replay-worker.js'), join(out, 'replay-worker.mjs'))
// The signature workers run this file beside the code that starts them (mempool/verifier.ts).
copyFileSync(join(pkg, 'src', 'mempool', 'signature-worker.mjs'), join(out, 'signature-worker.mjs'))
