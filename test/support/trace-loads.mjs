// `node --import ./trace-loads.mjs …` with TRACE_LOADS=<file>: appends the URL of every module the
// process resolves to <file>, one per line. Tests use it to check what a command loads.
import { register } from 'node:module'

const hooks = `
import { appendFileSync } from 'node:fs'
let file
export function initialize(data) { file = data.file }
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context)
  appendFileSync(file, r.url + '\\n')
  return r
}`
register(`data:text/javascript,${encodeURIComponent(hooks)}`, { data: { file: process.env.TRACE_LOADS } })
