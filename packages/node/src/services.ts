import type { Logger } from 'pino'

/**
 * A part of the node with a lifecycle (STYLE.md "Services are factories with a lifecycle", after
 * js-libp2p's services): it takes what it needs when constructed, `start` makes it work, `stop` ends
 * everything it started — its timers, its subscriptions, its waits — before it resolves.
 */
export interface Service {
  start(): Promise<void>
  stop(): Promise<void>
}

/**
 * One entry of the node's ordered service list: a name (logs, errors, tests) and how to construct the
 * service from those started before it — js-libp2p's `(components) => Service`, where the components
 * are the services earlier in the list (the node's storage and host exist once the node has started).
 */
export interface ServiceEntry {
  readonly name: string
  create(): Service | Promise<Service>
}

/**
 * The node's services, started in list order and stopped in reverse: a service stops while everything
 * it uses still runs. If one fails to start, those already started are stopped (in reverse) and the
 * error is thrown. A service whose stop fails is logged and the others still stop.
 */
export class ServiceList {
  private readonly started: { name: string; service: Service }[] = []
  private stopping: Promise<void> | undefined

  constructor(private readonly logger?: Logger) {}

  /** Names of the services running, in start order. */
  get names(): string[] {
    return this.started.map((s) => s.name)
  }

  async start(entries: readonly ServiceEntry[]): Promise<void> {
    for (const entry of entries) {
      try {
        const service = await entry.create()
        await service.start()
        this.started.push({ name: entry.name, service })
        this.logger?.debug({ service: entry.name }, 'service started')
      } catch (err) {
        this.logger?.error({ service: entry.name, err }, 'service failed to start')
        await this.stop()
        throw err
      }
    }
  }

  /** Stops every started service in reverse order (once: later calls wait for the first). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      while (this.started.length > 0) {
        const { name, service } = this.started.pop() as { name: string; service: Service }
        try {
          await service.stop()
          this.logger?.debug({ service: name }, 'service stopped')
        } catch (err) {
          this.logger?.error({ service: name, err }, 'service failed to stop')
        }
      }
    })().finally(() => {
      this.stopping = undefined
    })
    return this.stopping
  }
}
