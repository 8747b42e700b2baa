import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'

const require = createRequire(import.meta.url)
const here = assetsDir()

/**
 * The explorer's files stay in src/gateway/explorer (they are served as they are, not compiled): found
 * from this module whether it runs from src/, from dist/gateway/explorer or from the CLI bundle in
 * dist/cli-bundle (docs/build.md).
 */
function assetsDir(): string {
  let dir = import.meta.dirname
  if (existsSync(join(dir, 'index.html'))) return dir
  for (let up = 0; up < 4; up++) {
    dir = dirname(dir)
    const candidate = join(dir, 'src', 'gateway', 'explorer')
    if (existsSync(join(candidate, 'index.html'))) return candidate
  }
  return import.meta.dirname
}

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
