import type { Hex } from '../bytes.js'
import { decode } from '../codec.js'
import { signedOrderCodec } from '../messages.js'
import type { SignedOrder } from '../types.js'

/**
 * A decoder specialised to `signedOrderCodec`'s layout, for the unsealing hot path (the generic
 * struct reader was 13% of unsealing). It accepts exactly what the codec accepts — fixed-width
 * fields, u256 as a length byte and minimal big-endian bytes, u8 enum/bool in range, no trailing
 * bytes — and on anything else defers to the codec itself, so errors stay the codec's. Property-
 * tested against `decode(signedOrderCodec, ·)` on valid and mutated inputs.
 */
export function decodeSignedOrder(b: Uint8Array): SignedOrder {
  return fastDecode(b) ?? decode(signedOrderCodec, b)
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

function fastDecode(b: Uint8Array): SignedOrder | null {
  let o = 0
  const hex = (n: number): Hex | null => {
    if (o + n > b.length) return null
    let s = '0x'
    for (let i = o; i < o + n; i++) s += HEX[b[i]]
    o += n
    return s as Hex
  }
  const u256 = (): bigint | null => {
    if (o >= b.length) return null
    const n = b[o++]
    if (n > 32 || o + n > b.length || (n > 0 && b[o] === 0)) return null
    let v = 0n
    // 8 bytes at a time: far fewer bigint operations than one per byte.
    let i = 0
    for (; i + 8 <= n; i += 8) {
      let hi = 0
      let lo = 0
      for (let j = 0; j < 4; j++) hi = hi * 256 + b[o + i + j]
      for (let j = 4; j < 8; j++) lo = lo * 256 + b[o + i + j]
      v = (v << 64n) | (BigInt(hi) << 32n) | BigInt(lo)
    }
    for (; i < n; i++) v = (v << 8n) | BigInt(b[o + i])
    o += n
    return v
  }
  const u64 = (): bigint | null => {
    if (o + 8 > b.length) return null
    const v = new DataView(b.buffer, b.byteOffset + o, 8).getBigUint64(0)
    o += 8
    return v
  }
  const trader = hex(20)
  const sellAsset = hex(32)
  const buyAsset = hex(32)
  const sellAmount = u256()
  const buyAmount = u256()
  if (
    trader === null ||
    sellAsset === null ||
    buyAsset === null ||
    sellAmount === null ||
    buyAmount === null
  ) {
    return null
  }
  if (o + 2 > b.length || b[o] > 1 || b[o + 1] > 1) return null
  const kind = b[o] === 0 ? 'sell' : 'buy'
  const partiallyFillable = b[o + 1] === 1
  o += 2
  const firstBatch = u64()
  const lastBatch = u64()
  const nonce = u256()
  const app = hex(32)
  const r = hex(32)
  const s = hex(32)
  if (
    firstBatch === null ||
    lastBatch === null ||
    nonce === null ||
    app === null ||
    r === null ||
    s === null
  ) {
    return null
  }
  if (o + 1 !== b.length) return null
  const v = b[o]
  return {
    order: {
      trader,
      sellAsset,
      buyAsset,
      sellAmount,
      buyAmount,
      kind,
      partiallyFillable,
      firstBatch,
      lastBatch,
      nonce,
      app,
    },
    signature: { r, s, v },
  }
}
