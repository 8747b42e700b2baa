import { API_LIMITS } from '@allot/protocol'

/** The gateway's settings and their defaults, in one place (STYLE.md "One place per kind of thing"). */
export interface GatewayOptions {
  /** TCP port; 0 picks a free one. */
  port: number
  /** Bind address: loopback unless the operator says otherwise (`--http-host`). */
  host?: string
  /** Origins allowed by CORS (`*` for any); none by default: the explorer is served from the gateway itself. */
  corsOrigins?: string[]
  /** Requests per second one client (by remote address) may make, on average. */
  ratePerSecond?: number
  /** How many requests one client may make at once before the rate applies. */
  rateBurst?: number
  /** Event streams one client may hold open. */
  maxStreamsPerClient?: number
  /** A request's headers and body must arrive within this (slow clients hold no socket for ever). */
  requestTimeoutMs?: number
}

export const GATEWAY_DEFAULTS = {
  host: '127.0.0.1',
  ratePerSecond: 50,
  rateBurst: 100,
  maxStreamsPerClient: 8,
  requestTimeoutMs: 10_000,
  /**
   * Largest body of `POST /v1/orders/many`: the p2p API's largest frame (a full `submitMany`) written as
   * hex, plus room for the JSON around it.
   */
  maxManyBodyBytes: 2 * API_LIMITS.maxRequestBytes + 64 * 1024,
  /** Largest body of every other request: one sealed order (or a cancel) as hex, and its JSON. */
  maxBodyBytes: 2 * API_LIMITS.maxSingleRequestBytes + 4 * 1024,
  /** A comment line on each event stream this often, so proxies and browsers keep it open. */
  streamHeartbeatMs: 15_000,
  /** Clients not seen for this long leave the rate table. */
  rateIdleMs: 60_000,
} as const
