import { NODE_VERSION } from '../node.js'
import { ROUTES } from './routes.js'
import { ref, SCHEMAS } from './schemas.js'

/** Paths the gateway serves outside the route table, with their documented answers. */
export const FIXED_PATHS = [
  { path: '/health', operationId: 'health', summary: 'Liveness: the process answers', response: 'Health' },
  {
    path: '/status',
    operationId: 'status',
    summary:
      'Height, last finalized and settled batch, peers, and whether this validator is in the result quorum',
    response: 'Status',
  },
] as const

/** Event streams (text/event-stream). */
export const STREAM_PATHS = [
  {
    path: '/v1/stream/batches',
    operationId: 'streamBatches',
    summary:
      '`batch` events (each finalized batch, a BatchView) and `settlement` events (a batch settled since)',
  },
  {
    path: '/v1/stream/orders/{orderId}',
    operationId: 'streamOrder',
    summary: "`status` events: the order's status (an OrderStatus) each time it changes",
  },
] as const

const errorResponse = {
  description:
    'A coded error (the p2p API’s codes): 400 bad input, 404 unknown, 413 too large, 429 rate limited',
  content: { 'application/json': { schema: ref('Error') } },
}

function parametersOf(path: string): unknown[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }))
}

/** The OpenAPI 3.1 document of the gateway, built from the same route table the server dispatches on. */
export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  const add = (path: string, method: string, op: unknown) => {
    paths[path] = { ...(paths[path] ?? {}), [method]: op }
  }
  for (const f of FIXED_PATHS)
    add(f.path, 'get', {
      operationId: f.operationId,
      summary: f.summary,
      responses: {
        '200': { description: 'OK', content: { 'application/json': { schema: ref(f.response) } } },
      },
    })
  for (const s of STREAM_PATHS)
    add(s.path, 'get', {
      operationId: s.operationId,
      summary: s.summary,
      parameters: parametersOf(s.path),
      responses: {
        '200': {
          description: 'A server-sent event stream',
          content: { 'text/event-stream': { schema: { type: 'string' } } },
        },
        default: errorResponse,
      },
    })
  for (const r of ROUTES)
    add(r.path, r.method.toLowerCase(), {
      operationId: r.operationId,
      summary: r.summary,
      parameters: [
        ...parametersOf(r.path),
        ...(r.query ?? []).map((q) => ({ name: q.name, in: 'query', required: false, schema: q.schema })),
      ],
      ...(r.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: ref(r.body) } } } }
        : {}),
      responses: {
        '200': { description: 'OK', content: { 'application/json': { schema: ref(r.response) } } },
        default: errorResponse,
      },
    })
  return {
    openapi: '3.1.0',
    info: {
      title: 'allot node gateway',
      version: NODE_VERSION,
      description:
        'HTTP/JSON face of the p2p API (`/allot/api/1`): the same operations and error codes. Amounts, prices and heights are decimal strings.',
    },
    paths,
    components: { schemas: SCHEMAS },
  }
}
