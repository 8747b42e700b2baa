import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  addressOf,
  batchPublicKey,
  concatBytes,
  dealEpoch,
  deterministicRng,
  encodeEpochPublic,
  encodeSealedOrder,
  fromHex,
  type KeyShare,
  type NetworkDomain,
  type Order,
  orderIdOf,
  randomScalar,
  scalarToBytes,
  sealOrder,
  signKeyShare,
  signOrder,
  toHex,
  tokenAssetId,
  uintToWord,
} from '@allot/protocol'
import { describe, expect, it } from 'vitest'
import { levelSealingStore, memorySealingStore, SealingService } from '../../../src/sealing/index.js'
import { NodeStorage } from '../../../src/storage/index.js'

const domain: NetworkDomain = {
  chainId: 31337n,
  verifyingContract: '0x5fbdb2315678afecb367f032d93f642f64180aa3',
}
const rng = deterministicRng('sealing-service')
const keys = [0, 1, 2, 3].map(() => scalarToBytes(randomScalar(rng)))
const validators = keys.map(addressOf)
const epoch = dealEpoch({ startHeight: 10n, length: 5, n: 4, t: 1, rng })

async function validatorService(i: number, store = memorySealingStore(), published: KeyShare[] = []) {
  const s = new SealingService({
    domain,
    validators,
    store,
    validatorKey: keys[i],
    publishShare: async (ks) => {
      published.push(ks)
    },
  })
  await s.start()
  if ((await store.listEpochs()).length === 0)
    await s.addEpoch({ public: epoch.public, shares: epoch.shares[i] })
  return s
}

function sealedFor(h: bigint, traderKey: Uint8Array, nonce: bigint) {
  const order: Order = {
    trader: addressOf(traderKey),
    sellAsset: tokenAssetId('0xe7f1725e7734ce288f8367e1bb143e90bb3f0512'),
    buyAsset: tokenAssetId('0x9fe46736679d2d9a65f61992f6af2c6f6f0a6a5d'),
    sellAmount: 777_000n + nonce,
    buyAmount: 555_000n,
    kind: 'buy',
    partiallyFillable: false,
    firstBatch: h,
    lastBatch: h,
    nonce,
    app: `0x${'00'.repeat(32)}`,
  }
  const sealed = sealOrder({
    domain,
    signedOrder: { order, signature: signOrder(domain, order, traderKey) },
    batchPublicKey: batchPublicKey(epoch.public, h),
    traderKey,
    nonce,
    rng,
  })
  return { order, entry: { orderId: orderIdOf(sealed), sealed } }
}

describe('SealingService', () => {
  it('serves PK_h for keyed heights only', async () => {
    const s = await validatorService(0)
    expect(toHex((await s.batchKey(12n)) as Uint8Array)).toBe(batchPublicKey(epoch.public, 12n))
    expect(await s.batchKey(15n)).toBeUndefined()
    expect(s.lastKeyedHeight()).toBe(14n)
    expect(s.nextEpochStartIfDue(5n, 5n)).toBeUndefined()
    expect(s.nextEpochStartIfDue(11n, 5n)).toBe(15n)
  })

  it('never releases a share of an undecided batch, also after a restart', async () => {
    const store = memorySealingStore()
    const s = await validatorService(1, store)
    await expect(s.releaseShare(11n)).rejects.toThrow(/SEAL_UNDECIDED/)
    await s.onDecided(11n)
    // A restarted service over the same store: 11 is decided, 12 is not.
    const restarted = await validatorService(1, store)
    expect((await restarted.releaseShare(11n)).index).toBe(2)
    await expect(restarted.releaseShare(12n)).rejects.toThrow(/SEAL_UNDECIDED/)
  })

  it('after every validator restarted, a peer still gets t+1 shares of a decided batch: each signs its own again', async () => {
    const stores = [0, 1, 2, 3].map(() => memorySealingStore())
    const before = await Promise.all([0, 1, 2, 3].map((i) => validatorService(i, stores[i])))
    for (const s of before) await s.onDecided(12n)
    // Restarted (held shares live in memory): each holds none of 12, yet serves its own, and only for
    // decided heights.
    const after = await Promise.all([0, 1, 2, 3].map((i) => validatorService(i, stores[i])))
    expect(after[0].heldShares(12n)).toEqual([])
    const served = (await Promise.all(after.slice(0, 2).map((s) => s.sharesToServe(12n)))).flat()
    expect(served.map((ks) => ks.index).sort()).toEqual([1, 2])
    expect(await after[0].sharesToServe(13n)).toEqual([])
    const lagging = new SealingService({ domain, validators, store: memorySealingStore() })
    await lagging.addEpoch({ public: epoch.public, shares: null })
    for (const ks of served) expect(lagging.onShare(ks).accepted).toBe(true)
    expect(lagging.secretKey(12n)).toBeDefined()
  })

  it('shares of batches opened long ago are freed, those of batches without orders too', async () => {
    const s = await validatorService(0)
    const internals = s as unknown as { shares: Map<bigint, unknown>; secretKeys: Map<bigint, unknown> }
    for (let h = 10n; h <= 14n; h++) await s.onDecided(h)
    expect(internals.shares.size).toBe(5)
    // The pipeline opened 14 (and every height before it, in order): what is 16 or more below goes.
    s.openedThrough(14n, 2n)
    expect([...internals.shares.keys()]).toEqual([12n, 13n, 14n])
    // A late copy of a forgotten height's share is still valid gossip (held for peers), but not kept.
    const other = await validatorService(1)
    await other.onDecided(10n)
    const late = await other.releaseShare(10n)
    expect(s.onShare(late).accepted).toBe(true)
    expect(internals.shares.has(10n)).toBe(false)
    expect(s.heldShares(10n).map((x) => x.index)).toContain(late.index)
  })

  it('unseals a batch after t+1 valid shares; a bad share is rejected; fewer shares decrypt nothing', async () => {
    const published: KeyShare[] = []
    const v1 = await validatorService(0, memorySealingStore(), published)
    const v3 = await validatorService(2, memorySealingStore(), published)
    const observer = new SealingService({ domain, validators, store: memorySealingStore() })
    await observer.start()
    await observer.addEpoch({ public: epoch.public, shares: null })

    const traderKey = scalarToBytes(randomScalar(rng))
    const a = sealedFor(13n, traderKey, 1n)
    const b = sealedFor(13n, traderKey, 2n)
    const late = sealedFor(12n, traderKey, 3n) // sealed for a batch it missed

    // Before the decision: no share anywhere, nothing to unseal with.
    expect(() => observer.unseal(13n, [a.entry])).toThrow(/SEAL_NOT_ENOUGH_SHARES/)

    // A forged share (right signer, wrong value) is rejected and does not count.
    const forged = signKeyShare(domain, { height: 13n, index: 4, share: 42n }, keys[3])
    expect(observer.onShare(forged)).toMatchObject({ accepted: false, code: 'SEAL_BAD_SHARE' })
    // A share for another index by the wrong validator is rejected too.
    const wrongSigner = { ...forged, validator: validators[0] }
    expect(observer.onShare(wrongSigner)).toMatchObject({ accepted: false, code: 'SEAL_UNKNOWN_VALIDATOR' })

    await v1.onDecided(13n)
    expect(published).toHaveLength(1)
    expect(observer.onShare(published[0])).toEqual({ accepted: true, ready: false })
    // The same share again is taken as before; a forgery naming the index now held is still checked
    // (it used to be accepted unchecked, and gossip forwarded it: issue 24).
    expect(observer.onShare({ ...published[0] })).toEqual({ accepted: true, ready: false })
    const named = { ...published[0], share: toHex(uintToWord(42n)) }
    expect(observer.onShare(named)).toMatchObject({ accepted: false, code: 'SEAL_BAD_SHARE' })
    expect(() => observer.unseal(13n, [a.entry])).toThrow(/SEAL_NOT_ENOUGH_SHARES/)

    await v3.onDecided(13n)
    expect(observer.onShare(published[1])).toEqual({ accepted: true, ready: true })
    const res = observer.unseal(13n, [a.entry, b.entry, late.entry])
    expect(res.map((r) => (r.result.ok ? r.result.order.order : r.result.reason))).toEqual([
      a.order,
      b.order,
      'SEAL_WRONG_BATCH',
    ])
    // The batch key of 13 opens nothing of 14.
    const next = sealedFor(14n, traderKey, 4n)
    expect(observer.secretKey(13n)).toBeInstanceOf(Uint8Array)
    expect(() => observer.unseal(14n, [next.entry])).toThrow(/SEAL_NOT_ENOUGH_SHARES/)
  })

  it('byte search: nothing a validator holds before the decision contains an order field', async () => {
    const store = memorySealingStore()
    await validatorService(1, store)
    const traderKey = scalarToBytes(randomScalar(rng))
    const orders = [1n, 2n, 3n].map((n) => sealedFor(12n, traderKey, 0x5eed00n + n))
    // Everything held: every gossiped envelope, the epoch's public data, this validator's own shares.
    const held = concatBytes(
      ...orders.map((o) => encodeSealedOrder(o.entry.sealed)),
      encodeEpochPublic(epoch.public),
      ...(await store.listEpochs()).flatMap((e) => (e.shares ?? []).map((h) => fromHex(h))),
    )
    for (const { order } of orders) {
      for (const field of [order.sellAmount, order.buyAmount, order.nonce]) {
        expect(indexOf(held, uintToWord(field).subarray(-4))).toBe(-1)
      }
      expect(indexOf(held, fromHex(order.sellAsset).subarray(12))).toBe(-1)
      expect(indexOf(held, fromHex(order.buyAsset).subarray(12))).toBe(-1)
    }
  })

  it('level store: the decided rule and the epoch survive a real restart of the database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'allot-seal-'))
    try {
      let storage = await NodeStorage.open(dir)
      const s = await validatorService(2, levelSealingStore(storage))
      await s.onDecided(10n)
      await storage.close()
      storage = await NodeStorage.open(dir)
      const again = new SealingService({
        domain,
        validators,
        store: levelSealingStore(storage),
        validatorKey: keys[2],
      })
      await again.start()
      expect(toHex((await again.batchKey(14n)) as Uint8Array)).toBe(batchPublicKey(epoch.public, 14n))
      expect((await again.releaseShare(10n)).index).toBe(3)
      await expect(again.releaseShare(11n)).rejects.toThrow(/SEAL_UNDECIDED/)
      await storage.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}
