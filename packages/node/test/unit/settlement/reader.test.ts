// Issue 24: intake's bond checks read the chain head once per burst, not once per order. A stub of the
// chain client counts the calls (no chain here: the anvil tier tests the reader against a real one).
import type { Address } from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { ChainBalanceReader, type ChainClients } from '../../../src/settlement/index.js'

function stubChain() {
  const calls = { head: 0, reads: 0 }
  const clients = {
    publicClient: {
      getBlockNumber: async () => {
        calls.head++
        return 100n
      },
      readContract: async (a: { functionName: string }) => {
        calls.reads++
        return a.functionName === 'balanceOf' ? 1_000n : [0n, 0n]
      },
    },
  } as unknown as ChainClients
  return { clients, calls }
}

describe('ChainBalanceReader', () => {
  it('reads the head once for a burst of bond checks, and again once it is older than headCacheMs', async () => {
    const { clients, calls } = stubChain()
    let now = 0
    const reader = new ChainBalanceReader({
      clients,
      settlement: `0x${'55'.repeat(20)}` as Address,
      confirmations: 2,
      bondToken: `0x${'aa'.repeat(20)}` as Address,
      minBond: 1n,
      headCacheMs: 250,
      now: () => now,
    })
    // 64 strangers in one gossip bundle: one head read, one escrow position each (2 calls).
    const traders = Array.from(
      { length: 64 },
      (_, i) => `0x${(i + 1).toString(16).padStart(40, '0')}` as Address,
    )
    const bonds = await Promise.all(traders.map((t) => reader.bondOf(t)))
    expect(bonds.every((b) => b === 1_000n)).toBe(true)
    expect(calls.head).toBe(1)
    expect(calls.reads).toBe(128)
    // The same traders again within the window: nothing new is read.
    await Promise.all(traders.map((t) => reader.bondOf(t)))
    expect(calls.head).toBe(1)
    expect(calls.reads).toBe(128)
    now += 300
    await reader.bondOf(traders[0])
    expect(calls.head).toBe(2)
    // chainRef() itself (the consensus view) always reads afresh.
    expect(await reader.chainRef()).toBe(98n)
    expect(calls.head).toBe(3)
  })
})
