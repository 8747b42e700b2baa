import { createServer, type Server } from 'node:http'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'

export interface MetricsServerOptions {
  registry: Registry
  /** 0: a free port (tests). */
  port: number
  host: string
  logger?: Logger
}

/**
 * Serves the registry on `http://<host>:<port>/metrics` (Prometheus text format); anything else is a
 * 404. A service of the node's list (run.ts): started first, stopped last, its connections closed.
 */
export class MetricsServer {
  private server: Server | undefined

  constructor(private readonly o: MetricsServerOptions) {}

  /** The scrape URL, once started. */
  get url(): string | undefined {
    const a = this.server?.address()
    return a && typeof a === 'object' ? `http://${this.o.host}:${a.port}/metrics` : undefined
  }

  async start(): Promise<void> {
    const { registry } = this.o
    const server = createServer((req, res) => {
      if (req.url !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404).end()
        return
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err) => {
          this.o.logger?.warn({ err }, 'metrics scrape failed')
          res.writeHead(500).end()
        },
      )
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    this.server = server
    this.o.logger?.info({ metrics: this.url }, 'metrics')
  }

  async stop(): Promise<void> {
    const server = this.server
    if (!server) return
    this.server = undefined
    await new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
  }
}
