// A replay worker: clears the windows it is given with the validators' solver (evaluate.ts) and sends
// back their figures. Plain .mjs, run in every form of the code (docs/build.md): beside the sources
// (tsx, vitest) it registers tsx and imports the TypeScript; compiled (dist/, or the CLI bundle, where
// esbuild bundles evaluate.js into it) it imports the JavaScript and needs no tsx.
import { parentPort } from 'node:worker_threads'

let evaluateWindow
if (import.meta.url.includes('/src/')) {
  const { register } = await import('tsx/esm/api')
  register()
  ;({ evaluateWindow } = await import('./evaluate.ts'))
} else ({ evaluateWindow } = await import('./evaluate.js'))

parentPort.on('message', (m) => {
  try {
    const results = m.windows.map((w) => evaluateWindow(w, m.header, m.config))
    parentPort.postMessage({ id: m.id, results })
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: { message: e?.message ?? String(e), code: e?.code } })
  }
})
parentPort.postMessage({ ready: true })
