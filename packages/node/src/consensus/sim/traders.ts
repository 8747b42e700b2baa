import { SIM_INTAKE, type SimOrder } from './intake.js'
import type { Prng } from './prng.js'

/**
 * Hostile traders for the simulation (issue 24: "one trader stops consensus for good"). Each plays one
 * behaviour, again and again, for the batch after the one at work, so that every honest validator's intake
 * rules (sim/intake.ts) decide what it holds:
 * - **equivocate**: two envelopes with one nonce, one to each half of the validators (a random split);
 * - **split**: the per-trader cap's worth of orders to one half, as many different ones to the other;
 * - **late**: single orders to single validators for the height at work, around its cut-off;
 * - **flood**: three caps' worth of orders to every validator, each in its own order, so each takes a
 *   different cap's worth;
 * - **bond-flip**: two traders whose bonds flip in opposite directions, each validator seeing the flip at
 *   its own moment (its chain head lags by up to 1.5 s), both sending orders to all in that window.
 * Validators that take an order gossip it, as nodes do.
 */
export type TraderBehaviour = 'equivocate' | 'split' | 'late' | 'flood' | 'bond-flip'
export const TRADER_BEHAVIOURS: readonly TraderBehaviour[] = [
  'equivocate',
  'split',
  'late',
  'flood',
  'bond-flip',
]

/** Hostile traders' numbers start here (honest ones are 0..TRADERS−1). */
export const HOSTILE_TRADER_BASE = 100

export interface TraderWorld {
  rng: Prng
  validators: number
  now(): number
  at(t: number, fn: () => void): void
  /** Whether the run still takes orders. */
  open(): boolean
  /** The height the furthest honest validator works on, and the timestamp of its parent. */
  position(): { height: bigint; parentTimestamp: bigint }
  batchIntervalMs: number
  newOrder(trader: number, batch: bigint, nonce: bigint): SimOrder
  /** The trader hands `o` to validator `to` (over its API): intake, then gossip if taken. */
  deliver(to: number, o: SimOrder): void
}

/** Who is bonded, as each validator's chain view shows it: flips seen `lag` ms late, per validator. */
export class BondBook {
  private readonly flips = new Map<number, { at: number; bonded: boolean; lags: number[] }[]>()

  /** Honest traders and traders that never flipped are bonded. */
  bonded(trader: number, validator: number, now: number): boolean {
    const list = this.flips.get(trader)
    if (!list) return true
    let bonded = true
    for (const f of list) if (now >= f.at + f.lags[validator]) bonded = f.bonded
    return bonded
  }

  flip(trader: number, at: number, bonded: boolean, lags: number[]): void {
    let list = this.flips.get(trader)
    if (!list) this.flips.set(trader, (list = []))
    list.push({ at, bonded, lags })
  }
}

export function scheduleHostileTraders(
  w: TraderWorld,
  behaviours: readonly TraderBehaviour[],
  bonds: BondBook,
): void {
  behaviours.forEach((b, k) => {
    const trader = HOSTILE_TRADER_BASE + 2 * k
    let nonce = 0n
    const next = () => ++nonce
    const halves = (): [number[], number[]] => {
      const all = w.rng.shuffle([...Array(w.validators).keys()])
      const cut = w.rng.int(1, w.validators - 1)
      return [all.slice(0, cut), all.slice(cut)]
    }
    const soon = (to: number, o: SimOrder) => w.at(w.now() + w.rng.int(1, 30), () => w.deliver(to, o))
    const target = () => w.position().height + 1n
    const every = (lo: number, hi: number, act: () => void) => {
      const go = () => {
        if (!w.open()) return
        act()
        w.at(w.now() + w.rng.int(lo, hi), go)
      }
      w.at(w.now() + w.rng.int(lo, hi), go)
    }
    switch (b) {
      case 'equivocate':
        every(600, 2000, () => {
          const h = target()
          const n = next()
          const [a, z] = halves()
          const e1 = w.newOrder(trader, h, n)
          const e2 = w.newOrder(trader, h, n)
          for (const to of a) soon(to, e1)
          for (const to of z) soon(to, e2)
        })
        break
      case 'split':
        every(600, 2000, () => {
          const h = target()
          const [a, z] = halves()
          for (const side of [a, z]) {
            for (let c = 0; c < SIM_INTAKE.perTraderCap; c++) {
              const o = w.newOrder(trader, h, next())
              for (const to of side) soon(to, o)
            }
          }
        })
        break
      case 'late':
        every(40, 250, () => {
          const p = w.position()
          // around the cut-off of the height at work: some land before it, some after
          const o = w.newOrder(trader, p.height, next())
          soon(w.rng.int(0, w.validators - 1), o)
        })
        break
      case 'flood':
        every(600, 2000, () => {
          const h = target()
          const orders = Array.from({ length: 3 * SIM_INTAKE.perTraderCap }, () =>
            w.newOrder(trader, h, next()),
          )
          for (let to = 0; to < w.validators; to++) {
            const mine = w.rng.shuffle([...orders])
            for (const [i, o] of mine.entries())
              w.at(w.now() + 1 + i * w.rng.int(1, 8), () => w.deliver(to, o))
          }
        })
        break
      case 'bond-flip': {
        // Two traders: `trader` starts bonded, `trader + 1` not; each cycle both flip.
        let bonded = true
        every(1500, 3000, () => {
          bonded = !bonded
          const at = w.now()
          const lags = () => Array.from({ length: w.validators }, () => w.rng.int(0, 1500))
          bonds.flip(trader, at, bonded, lags())
          bonds.flip(trader + 1, at, !bonded, lags())
          const h = target()
          // in the window where views differ
          for (const t of [trader, trader + 1]) {
            const o = w.newOrder(t, h, BigInt(at) * 16n + BigInt(t - trader))
            const when = at + w.rng.int(100, 1400)
            for (let to = 0; to < w.validators; to++) w.at(when + w.rng.int(0, 30), () => w.deliver(to, o))
          }
        })
        break
      }
    }
  })
}
