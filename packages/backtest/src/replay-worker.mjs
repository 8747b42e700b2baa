// A replay worker: clears the windows it is given with the validators' solver (evaluate.ts) and sends
// back their figures. Plain .mjs that registers tsx itself, so it runs the TypeScript sources under
// tsx and vitest alike (the workspace emits no JavaScript).
import { parentPort } from 'node:worker_threads'
import { register } from 'tsx/esm/api'

register()
const { evaluateWindow } = await import('./evaluate.ts')

parentPort.on('message', (m) => {
  try {
    const results = m.windows.map((w) => evaluateWindow(w, m.header, m.config))
    parentPort.postMessage({ id: m.id, results })
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: { message: e?.message ?? String(e), code: e?.code } })
  }
})
parentPort.postMessage({ ready: true })
