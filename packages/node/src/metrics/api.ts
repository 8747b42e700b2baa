import { Counter, Histogram, type Registry } from 'prom-client'

/** The request/response protocols: the API, sync, and those consensus and sealing register. */
export function createApiMetrics(registry: Registry) {
  return {
    requests: new Counter({
      name: 'allot_api_requests_total',
      help: 'API and sync requests by protocol and result code',
      labelNames: ['protocol', 'code'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'allot_api_request_seconds',
      help: 'API and sync request latency',
      labelNames: ['protocol'] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
  }
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>
