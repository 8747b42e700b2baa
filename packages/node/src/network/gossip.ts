import { AllotError } from '@allot/protocol'
import type { GossipSub } from '@chainsafe/libp2p-gossipsub'
import { TopicValidatorResult } from '@libp2p/interface'

export type GossipVerdict = 'accept' | 'ignore' | 'reject'

/** Codes that say "not now / not new" rather than "bad": gossip ignores them without penalty. */
const IGNORE_CODE =
  /(DUPLICATE|RATE_LIMITED|_FULL|TARGET_CLOSED|NOT_FOUND|UNKNOWN_HEIGHT|FUTURE|INSUFFICIENT_BOND|^API_|INTERNAL)/

/**
 * The one place validation errors become gossip verdicts (STYLE.md "Errors"). A coded error about
 * the message (malformed, bad signature, wrong batch...) rejects it, and the peer's score pays;
 * a duplicate, a batch that just closed or a full queue is ignored; our own internal failures
 * (anything that is not an AllotError) are ignored too — never the peer's fault.
 */
export function verdictOf(e: unknown): GossipVerdict {
  if (e === undefined || e === null) return 'accept'
  if (!(e instanceof AllotError)) return 'ignore'
  // An error may say its own action (`details.gossip`): the same code can be the sender's fault or ours.
  const own = e.details?.gossip
  if (own === 'ignore' || own === 'reject') return own
  return IGNORE_CODE.test(e.code) ? 'ignore' : 'reject'
}

const RESULT: Record<GossipVerdict, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject,
}

export interface TopicSubscription<T> {
  /** Largest message accepted on this topic (checked before anything else). */
  maxBytes: number
  /** Validates (throws a coded AllotError to refuse); its result goes to `handle` once accepted. */
  validate(data: Uint8Array, from: string): Promise<T>
  handle?(value: T, from: string): void
}

export interface GossipMetricsSink {
  onVerdict?(topic: string, verdict: GossipVerdict, code: string | undefined): void
}

/**
 * Typed gossip over gossipsub with asynchronous validation: each received message goes through its
 * topic's validator, and only accepted ones are forwarded to mesh peers.
 */
export class Gossip {
  private readonly subs = new Map<string, TopicSubscription<unknown>>()
  private readonly listener: (ev: CustomEvent) => void

  constructor(
    readonly pubsub: GossipSub,
    private readonly sink: GossipMetricsSink = {},
  ) {
    this.listener = (ev) => void this.onMessage(ev as CustomEvent)
    pubsub.addEventListener('gossipsub:message', this.listener)
  }

  subscribe<T>(topic: string, sub: TopicSubscription<T>): void {
    this.subs.set(topic, sub as TopicSubscription<unknown>)
    this.pubsub.subscribe(topic)
  }

  async publish(topic: string, data: Uint8Array): Promise<number> {
    const r = await this.pubsub.publish(topic, data)
    return r.recipients.length
  }

  /** Peers subscribed to a topic (known through their subscriptions). */
  peersOn(topic: string): number {
    return this.pubsub.getSubscribers(topic).length
  }

  close(): void {
    this.pubsub.removeEventListener('gossipsub:message', this.listener)
  }

  private async onMessage(ev: CustomEvent): Promise<void> {
    const { msg, msgId, propagationSource } = ev.detail as {
      msg: { topic: string; data: Uint8Array }
      msgId: string
      propagationSource: { toString(): string }
    }
    const from = propagationSource.toString()
    const sub = this.subs.get(msg.topic)
    let verdict: GossipVerdict
    let code: string | undefined
    let value: unknown
    if (!sub) {
      verdict = 'ignore'
    } else if (msg.data.length > sub.maxBytes) {
      verdict = 'reject'
      code = 'WIRE_TOO_LARGE'
    } else {
      try {
        value = await sub.validate(msg.data, from)
        verdict = 'accept'
      } catch (e) {
        verdict = verdictOf(e)
        code = e instanceof AllotError ? e.code : 'INTERNAL'
      }
    }
    this.sink.onVerdict?.(msg.topic, verdict, code)
    try {
      this.pubsub.reportMessageValidationResult(msgId, from, RESULT[verdict])
    } catch {
      // The host stopped while we validated; nothing left to report to.
    }
    if (verdict === 'accept') sub?.handle?.(value, from)
  }
}
