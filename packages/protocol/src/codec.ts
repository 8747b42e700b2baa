import { type Address, type Hex, toHex } from './bytes.js'
import { AllotError } from './errors.js'

/**
 * A tiny schema language for the wire: each message is defined once as a `Codec<T>`, which gives
 * its TypeScript type (`Infer<typeof codec>`), a deterministic encoder (same value → same bytes)
 * and a strict decoder that rejects malformed, non-canonical, oversized or trailing input with a
 * coded `AllotError` (`WIRE_MALFORMED`, `WIRE_TOO_LARGE`, `WIRE_TRAILING_BYTES`) — never anything else.
 *
 * Layout: integers big-endian fixed width (u8/u16/u32/i32/u64); u256 as a length byte and
 * minimal big-endian bytes (no leading zero, so canonical); bytes/strings/lists with a u32
 * length prefix and a per-field maximum; structs as their fields in order; unions as a u8 tag.
 */
export interface Codec<T> {
  readonly name: string
  write(w: Writer, v: T): void
  read(r: Reader): T
}

export type Infer<C> = C extends Codec<infer T> ? T : never

export class Writer {
  private buf = new Uint8Array(256)
  private view = new DataView(this.buf.buffer)
  length = 0

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.buf.subarray(0, this.length))
    this.buf = next
    this.view = new DataView(next.buffer)
  }
  u8(v: number): void {
    this.ensure(1)
    this.buf[this.length++] = v
  }
  u16(v: number): void {
    this.ensure(2)
    this.view.setUint16(this.length, v)
    this.length += 2
  }
  u32(v: number): void {
    this.ensure(4)
    this.view.setUint32(this.length, v)
    this.length += 4
  }
  i32(v: number): void {
    this.ensure(4)
    this.view.setInt32(this.length, v)
    this.length += 4
  }
  u64(v: bigint): void {
    this.ensure(8)
    this.view.setBigUint64(this.length, v)
    this.length += 8
  }
  raw(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.length)
    this.length += b.length
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.length)
  }
}

export class Reader {
  private readonly view: DataView
  offset = 0

  constructor(readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }
  need(n: number, what: string): void {
    if (this.offset + n > this.buf.length) malformed(`truncated ${what}`)
  }
  u8(): number {
    this.need(1, 'u8')
    return this.buf[this.offset++]
  }
  u16(): number {
    this.need(2, 'u16')
    const v = this.view.getUint16(this.offset)
    this.offset += 2
    return v
  }
  u32(): number {
    this.need(4, 'u32')
    const v = this.view.getUint32(this.offset)
    this.offset += 4
    return v
  }
  i32(): number {
    this.need(4, 'i32')
    const v = this.view.getInt32(this.offset)
    this.offset += 4
    return v
  }
  u64(): bigint {
    this.need(8, 'u64')
    const v = this.view.getBigUint64(this.offset)
    this.offset += 8
    return v
  }
  raw(n: number, what: string): Uint8Array {
    this.need(n, what)
    const b = this.buf.subarray(this.offset, this.offset + n)
    this.offset += n
    return b
  }
}

export function malformed(message: string): never {
  throw new AllotError('WIRE_MALFORMED', message)
}

function intCheck(v: unknown, min: number, max: number, name: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    malformed(`${name} out of range: ${String(v)}`)
  return v
}

export const u8: Codec<number> = {
  name: 'u8',
  write: (w, v) => w.u8(intCheck(v, 0, 0xff, 'u8')),
  read: (r) => r.u8(),
}
export const u16: Codec<number> = {
  name: 'u16',
  write: (w, v) => w.u16(intCheck(v, 0, 0xffff, 'u16')),
  read: (r) => r.u16(),
}
export const u32: Codec<number> = {
  name: 'u32',
  write: (w, v) => w.u32(intCheck(v, 0, 0xffffffff, 'u32')),
  read: (r) => r.u32(),
}
export const i32: Codec<number> = {
  name: 'i32',
  write: (w, v) => w.i32(intCheck(v, -0x80000000, 0x7fffffff, 'i32')),
  read: (r) => r.i32(),
}
export const u64: Codec<bigint> = {
  name: 'u64',
  write: (w, v) => {
    if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) malformed(`u64 out of range: ${String(v)}`)
    w.u64(v)
  },
  read: (r) => r.u64(),
}
export const u256: Codec<bigint> = {
  name: 'u256',
  write: (w, v) => {
    if (typeof v !== 'bigint' || v < 0n || v >= 1n << 256n) malformed(`u256 out of range: ${String(v)}`)
    const bytes: number[] = []
    for (let x = v; x > 0n; x >>= 8n) bytes.push(Number(x & 0xffn))
    w.u8(bytes.length)
    for (let i = bytes.length - 1; i >= 0; i--) w.u8(bytes[i])
  },
  read: (r) => {
    const n = r.u8()
    if (n > 32) malformed(`u256 of ${n} bytes`)
    const b = r.raw(n, 'u256')
    if (n > 0 && b[0] === 0) malformed('u256 with a leading zero byte (non-canonical)')
    let v = 0n
    for (const x of b) v = (v << 8n) | BigInt(x)
    return v
  },
}
export const bool: Codec<boolean> = {
  name: 'bool',
  write: (w, v) => {
    if (typeof v !== 'boolean') malformed('not a boolean')
    w.u8(v ? 1 : 0)
  },
  read: (r) => {
    const b = r.u8()
    if (b > 1) malformed(`bool byte ${b}`)
    return b === 1
  },
}

/** Variable-length bytes as 0x-hex, at most `max` bytes. */
export function bytes(max: number): Codec<Hex> {
  return {
    name: `bytes<=${max}`,
    write: (w, v) => {
      if (typeof v !== 'string' || !/^0x([0-9a-fA-F]{2})*$/.test(v)) malformed('not hex bytes')
      const n = (v.length - 2) / 2
      if (n > max) throw new AllotError('WIRE_TOO_LARGE', `${n} bytes, at most ${max}`)
      w.u32(n)
      w.raw(hexBytes(v))
    },
    read: (r) => {
      const n = r.u32()
      if (n > max) throw new AllotError('WIRE_TOO_LARGE', `${n} bytes, at most ${max}`)
      return toHex(r.raw(n, 'bytes'))
    },
  }
}

/** Raw variable-length bytes as a Uint8Array, at most `max` bytes (for bulky payloads such as ciphertexts). */
export function rawBytes(max: number): Codec<Uint8Array> {
  return {
    name: `raw<=${max}`,
    write: (w, v) => {
      if (!(v instanceof Uint8Array)) malformed('not a byte array')
      if (v.length > max) throw new AllotError('WIRE_TOO_LARGE', `${v.length} bytes, at most ${max}`)
      w.u32(v.length)
      w.raw(v)
    },
    read: (r) => {
      const n = r.u32()
      if (n > max) throw new AllotError('WIRE_TOO_LARGE', `${n} bytes, at most ${max}`)
      return r.raw(n, 'bytes').slice()
    },
  }
}

function hexBytes(v: string): Uint8Array {
  const out = new Uint8Array((v.length - 2) / 2)
  for (let i = 0; i < out.length; i++) {
    const b = Number.parseInt(v.slice(2 + 2 * i, 4 + 2 * i), 16)
    if (Number.isNaN(b)) malformed('not hex')
    out[i] = b
  }
  return out
}

/** Fixed-length bytes as lowercase 0x-hex. */
export function fixedBytes(n: number): Codec<Hex> {
  const re = new RegExp(`^0x[0-9a-fA-F]{${2 * n}}$`)
  return {
    name: `bytes${n}`,
    write: (w, v) => {
      if (typeof v !== 'string' || !re.test(v)) malformed(`not ${n} hex bytes: ${String(v).slice(0, 80)}`)
      w.raw(hexBytes(v))
    },
    read: (r) => toHex(r.raw(n, `bytes${n}`)),
  }
}

export const bytes32 = fixedBytes(32)
export const address = fixedBytes(20) as Codec<Address>

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

export function str(max: number): Codec<string> {
  return {
    name: `string<=${max}`,
    write: (w, v) => {
      if (typeof v !== 'string') malformed('not a string')
      const b = utf8.encode(v)
      if (b.length > max)
        throw new AllotError('WIRE_TOO_LARGE', `string of ${b.length} bytes, at most ${max}`)
      w.u32(b.length)
      w.raw(b)
    },
    read: (r) => {
      const n = r.u32()
      if (n > max) throw new AllotError('WIRE_TOO_LARGE', `string of ${n} bytes, at most ${max}`)
      try {
        return utf8Strict.decode(r.raw(n, 'string'))
      } catch (e) {
        if (e instanceof AllotError) throw e
        return malformed('string is not valid UTF-8')
      }
    },
  }
}

export function list<T>(item: Codec<T>, max: number): Codec<T[]> {
  return {
    name: `${item.name}[<=${max}]`,
    write: (w, v) => {
      if (!Array.isArray(v)) malformed('not a list')
      if (v.length > max) throw new AllotError('WIRE_TOO_LARGE', `list of ${v.length}, at most ${max}`)
      w.u32(v.length)
      for (const x of v) item.write(w, x)
    },
    read: (r) => {
      const n = r.u32()
      if (n > max) throw new AllotError('WIRE_TOO_LARGE', `list of ${n}, at most ${max}`)
      const out: T[] = []
      for (let i = 0; i < n; i++) out.push(item.read(r))
      return out
    },
  }
}

/** `null` or a value (a presence byte 0/1). */
export function optional<T>(inner: Codec<T>): Codec<T | null> {
  return {
    name: `${inner.name}?`,
    write: (w, v) => {
      if (v === null || v === undefined) w.u8(0)
      else {
        w.u8(1)
        inner.write(w, v)
      }
    },
    read: (r) => {
      const b = r.u8()
      if (b === 0) return null
      if (b !== 1) malformed(`presence byte ${b}`)
      return inner.read(r)
    },
  }
}

/** One of a fixed set of strings, as a u8 index. */
export function enumOf<const T extends readonly string[]>(values: T): Codec<T[number]> {
  return {
    name: `enum(${values.join('|')})`,
    write: (w, v) => {
      const i = values.indexOf(v)
      if (i < 0) malformed(`not one of ${values.join(', ')}: ${String(v)}`)
      w.u8(i)
    },
    read: (r) => {
      const i = r.u8()
      if (i >= values.length) malformed(`enum index ${i}`)
      return values[i]
    },
  }
}

type Fields = Record<string, Codec<unknown>>
type StructOf<F extends Fields> = { [K in keyof F]: Infer<F[K]> }

export function struct<F extends Fields>(name: string, fields: F): Codec<StructOf<F>> {
  const entries = Object.entries(fields)
  return {
    name,
    write: (w, v) => {
      if (v === null || typeof v !== 'object') malformed(`${name}: not an object`)
      for (const [k, c] of entries) c.write(w, (v as Record<string, unknown>)[k])
    },
    read: (r) => {
      const out: Record<string, unknown> = {}
      for (const [k, c] of entries) out[k] = c.read(r)
      return out as StructOf<F>
    },
  }
}

type Variants = Record<string, Codec<object>>
type UnionOf<V extends Variants> = { [K in keyof V]: { kind: K } & Infer<V[K]> }[keyof V]

/** A tagged union on the `kind` field; the tag is the variant's index in declaration order. */
export function union<V extends Variants>(name: string, variants: V): Codec<UnionOf<V>> {
  const keys = Object.keys(variants)
  return {
    name,
    write: (w, v) => {
      const kind = (v as { kind?: string } | null)?.kind
      const i = kind === undefined ? -1 : keys.indexOf(kind)
      if (i < 0) malformed(`${name}: unknown kind ${String(kind)}`)
      w.u8(i)
      variants[keys[i]].write(w, v as object)
    },
    read: (r) => {
      const i = r.u8()
      if (i >= keys.length) malformed(`${name}: variant tag ${i}`)
      return { kind: keys[i], ...variants[keys[i]].read(r) } as UnionOf<V>
    },
  }
}

/** Encodes a whole message; `maxSize` guards what we send as strictly as what we accept. */
export function encode<T>(codec: Codec<T>, value: T, maxSize = Number.POSITIVE_INFINITY): Uint8Array {
  const w = new Writer()
  codec.write(w, value)
  if (w.length > maxSize)
    throw new AllotError('WIRE_TOO_LARGE', `${codec.name} of ${w.length} bytes, at most ${maxSize}`)
  return w.finish()
}

/** Decodes a whole message; anything wrong is a coded AllotError, never another exception. */
export function decode<T>(codec: Codec<T>, bytes: Uint8Array, maxSize = Number.POSITIVE_INFINITY): T {
  if (!(bytes instanceof Uint8Array)) malformed('not bytes')
  if (bytes.length > maxSize)
    throw new AllotError('WIRE_TOO_LARGE', `${codec.name} of ${bytes.length} bytes, at most ${maxSize}`)
  const r = new Reader(bytes)
  let value: T
  try {
    value = codec.read(r)
  } catch (e) {
    if (e instanceof AllotError) throw e
    return malformed(`${codec.name}: ${(e as Error).message}`)
  }
  if (r.offset !== bytes.length) {
    throw new AllotError(
      'WIRE_TRAILING_BYTES',
      `${codec.name}: ${bytes.length - r.offset} bytes after the message`,
    )
  }
  return value
}
