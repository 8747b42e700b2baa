/**
 * keccak256 in WebAssembly, the module written here as bytes: one exported function absorbs whole
 * 136-byte blocks into a state kept in memory, the Keccak-f[1600] rounds unrolled over 64-bit locals.
 * JavaScript copies the input and its padding into memory and reads the digest back, allocating
 * nothing per hash but what the caller asks for. An order is hashed five times at intake (its id,
 * its payload, the EIP-712 struct and digest, the signer's key), and a general-purpose hasher's
 * per-call views and copies were a tenth of intake's garbage (heap sampling). The module is small
 * enough to compile synchronously when this file loads. noble's keccak is the reference it is tested
 * against, at every length around the block boundaries.
 */

const RATE = 136
/** Memory layout: the state (25 lanes), the 24 round constants, then the input blocks. */
const STATE = 0
const RC_AT = 200
const INPUT = 400
/** Input bytes absorbed per call: whole blocks, leaving room for a padded last block in one page. */
const CHUNK = RATE * 400

const ROUND_CONSTANTS = [
  0x0000000000000001n,
  0x0000000000008082n,
  0x800000000000808an,
  0x8000000080008000n,
  0x000000000000808bn,
  0x0000000080000001n,
  0x8000000080008081n,
  0x8000000000008009n,
  0x000000000000008an,
  0x0000000000000088n,
  0x0000000080008009n,
  0x000000008000000an,
  0x000000008000808bn,
  0x800000000000008bn,
  0x8000000000008089n,
  0x8000000000008003n,
  0x8000000000008002n,
  0x8000000000000080n,
  0x000000000000800an,
  0x800000008000000an,
  0x8000000080008081n,
  0x8000000000008080n,
  0x0000000080000001n,
  0x8000000080008008n,
]

/** ρ rotation of lane x + 5y. */
const RHO = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14]

function uleb(n: number): number[] {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
  return out
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body]
}

function name(s: string): number[] {
  return [...uleb(s.length), ...new TextEncoder().encode(s)]
}

// opcodes
const LOCAL_GET = 0x20
const LOCAL_SET = 0x21
const I32_CONST = 0x41
const I64_CONST = 0x42
const I64_LOAD = 0x29
const I64_STORE = 0x37
const I32_ADD = 0x6a
const I32_SUB = 0x6b
const I32_EQZ = 0x45
const I32_LT_U = 0x49
const I64_AND = 0x83
const I64_XOR = 0x85
const I64_ROTL = 0x89
const BLOCK = 0x02
const LOOP = 0x03
const BR = 0x0c
const BR_IF = 0x0d
const END = 0x0b
const VOID = 0x40

/** absorb(n): n blocks from INPUT into the state at STATE. */
function absorbBody(): number[] {
  // locals: 0 = n (param), 1 = p, 2 = round (bytes into the constants), a 3..27, b 28..52, c 53..57, d 58..62
  const P = 1
  const R = 2
  const a = (i: number) => 3 + i
  const b = (i: number) => 28 + i
  const c = (i: number) => 53 + i
  const d = (i: number) => 58 + i
  const code: number[] = []
  const get = (l: number) => code.push(LOCAL_GET, l)
  const set = (l: number) => code.push(LOCAL_SET, l)
  const load = (offset: number) => code.push(I64_LOAD, 3, ...uleb(offset))
  const i32 = (v: number) => code.push(I32_CONST, ...sleb32(v))

  // p = INPUT; a[i] = state[i]
  i32(INPUT)
  set(P)
  for (let i = 0; i < 25; i++) {
    i32(STATE)
    load(8 * i)
    set(a(i))
  }
  code.push(BLOCK, VOID, LOOP, VOID)
  // if n == 0 break
  get(0)
  code.push(I32_EQZ, BR_IF, 1)
  // absorb one block
  for (let i = 0; i < RATE / 8; i++) {
    get(a(i))
    get(P)
    load(8 * i)
    code.push(I64_XOR)
    set(a(i))
  }
  i32(0)
  set(R)
  code.push(LOOP, VOID)
  // θ
  for (let x = 0; x < 5; x++) {
    get(a(x))
    for (let y = 1; y < 5; y++) {
      get(a(x + 5 * y))
      code.push(I64_XOR)
    }
    set(c(x))
  }
  for (let x = 0; x < 5; x++) {
    get(c((x + 4) % 5))
    get(c((x + 1) % 5))
    code.push(I64_CONST, 1, I64_ROTL, I64_XOR)
    set(d(x))
  }
  // θ applied, then ρ and π: b[y + 5((2x + 3y) mod 5)] = rotl(a[x + 5y] ^ d[x], ρ)
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 5; x++) {
      const i = x + 5 * y
      get(a(i))
      get(d(x))
      code.push(I64_XOR)
      if (RHO[i] !== 0) code.push(I64_CONST, ...sleb32(RHO[i]), I64_ROTL)
      set(b(y + 5 * ((2 * x + 3 * y) % 5)))
    }
  }
  // χ: a[x + 5y] = b[x + 5y] ^ (~b[x+1 + 5y] & b[x+2 + 5y])
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 5; x++) {
      get(b(x + 5 * y))
      get(b(((x + 1) % 5) + 5 * y))
      code.push(I64_CONST, 0x7f, I64_XOR) // ~ (xor with -1)
      get(b(((x + 2) % 5) + 5 * y))
      code.push(I64_AND, I64_XOR)
      set(a(x + 5 * y))
    }
  }
  // ι
  get(a(0))
  get(R)
  load(RC_AT)
  code.push(I64_XOR)
  set(a(0))
  // next round
  get(R)
  i32(8)
  code.push(I32_ADD)
  set(R)
  get(R)
  i32(8 * 24)
  code.push(I32_LT_U, BR_IF, 0, END)
  // next block: p += RATE; n -= 1
  get(P)
  i32(RATE)
  code.push(I32_ADD)
  set(P)
  get(0)
  i32(1)
  code.push(I32_SUB)
  set(0)
  code.push(BR, 0, END, END)
  // state[i] = a[i]
  for (let i = 0; i < 25; i++) {
    i32(STATE)
    get(a(i))
    code.push(I64_STORE, 3, ...uleb(8 * i))
  }
  code.push(END)
  const locals = [2, 2, 0x7f, 60, 0x7e] // 2 × i32, 60 × i64
  const body = [...locals, ...code]
  return [...uleb(body.length), ...body]
}

function sleb32(v: number): number[] {
  const out: number[] = []
  for (;;) {
    const b = v & 0x7f
    v >>= 7
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b)
      return out
    }
    out.push(b | 0x80)
  }
}

function moduleBytes(): Uint8Array {
  const constants: number[] = []
  for (const rc of ROUND_CONSTANTS)
    for (let k = 0n; k < 64n; k += 8n) constants.push(Number((rc >> k) & 0xffn))
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 1, 0x7f, 0]), // type 0: (i32) → ()
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0x00, 1]), // one memory of one page
    ...section(7, [2, ...name('memory'), 0x02, 0, ...name('absorb'), 0x00, 0]),
    ...section(10, [1, ...absorbBody()]),
    ...section(11, [1, 0x00, I32_CONST, ...sleb32(RC_AT), END, ...uleb(constants.length), ...constants]),
  ])
}

export interface WasmKeccak {
  /** keccak256(data) written to out[at..at+32). */
  into(data: Uint8Array, out: Uint8Array, at: number): void
}

/** The part of the WebAssembly API used here (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object
  Instance: new (module: object) => { exports: Record<string, unknown> }
}

/** The hasher, or undefined where WebAssembly is unavailable (noble then serves). */
export function createWasmKeccak(): WasmKeccak | undefined {
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly
  if (wasm === undefined) return undefined
  let absorb: (n: number) => void
  let mem: Uint8Array
  try {
    const instance = new wasm.Instance(new wasm.Module(moduleBytes()))
    absorb = instance.exports.absorb as (n: number) => void
    mem = new Uint8Array((instance.exports.memory as { buffer: ArrayBuffer }).buffer)
  } catch {
    return undefined
  }
  const digest = mem.subarray(STATE, STATE + 32)
  return {
    into(data, out, at) {
      mem.fill(0, STATE, STATE + 200)
      const len = data.length
      let off = 0
      while (len - off >= CHUNK) {
        mem.set(data.subarray(off, off + CHUNK), INPUT)
        absorb(CHUNK / RATE)
        off += CHUNK
      }
      const rest = len - off
      mem.set(off === 0 ? data : data.subarray(off), INPUT)
      const padded = (Math.floor(rest / RATE) + 1) * RATE
      mem.fill(0, INPUT + rest, INPUT + padded)
      mem[INPUT + rest] = 0x01
      mem[INPUT + padded - 1] |= 0x80
      absorb(padded / RATE)
      out.set(digest, at)
    },
  }
}
