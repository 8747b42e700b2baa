import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
const here = import.meta.dirname

/** chart.js's UMD build, from the pinned package in node_modules (no CDN). */
function chartJsPath(): string {
  return join(dirname(require.resolve('chart.js')), 'chart.umd.min.js')
}

function file(path: string): () => string {
  let cached: string | undefined
  return () => {
    cached ??= readFileSync(path, 'utf8')
    return cached
  }
}

/** The explorer's static files by URL path: plain ES modules and CSS, and the vendored chart.js. */
export const EXPLORER_ASSETS: Record<string, { type: string; body: () => string }> = {
  '/index.html': { type: 'text/html; charset=utf-8', body: file(join(here, 'index.html')) },
  '/app.js': { type: 'text/javascript; charset=utf-8', body: file(join(here, 'app.js')) },
  '/charts.js': { type: 'text/javascript; charset=utf-8', body: file(join(here, 'charts.js')) },
  '/style.css': { type: 'text/css; charset=utf-8', body: file(join(here, 'style.css')) },
  '/vendor/chart.umd.min.js': { type: 'text/javascript; charset=utf-8', body: file(chartJsPath()) },
}
