/**
 * `exists(keys)` that gathers the keys asked during one macrotask into a single `getMany`: intake asks
 * level whether each new order already had a final status, and a burst of orders made that one
 * native round trip per order (measured: ~40 µs of CPU each, against a few µs per key in a getMany).
 * A caller with many keys (a `submitMany`, a gossip bundle) asks for them in one call.
 */
export function batchedExists<K, V = unknown>(
  getMany: (keys: K[]) => Promise<(V | undefined)[]>,
  present: (v: V | undefined) => boolean = (v) => v !== undefined,
): (keys: K[]) => Promise<boolean[]> {
  let keys: K[] = []
  let waiting: { from: number; n: number; resolve: (v: boolean[]) => void; reject: (e: unknown) => void }[] =
    []
  let scheduled = false
  const flush = (): void => {
    scheduled = false
    const ks = keys
    const ws = waiting
    keys = []
    waiting = []
    getMany(ks).then(
      (vs) => {
        for (const w of ws) {
          const out = new Array<boolean>(w.n)
          for (let i = 0; i < w.n; i++) out[i] = present(vs[w.from + i])
          w.resolve(out)
        }
      },
      (e) => {
        for (const w of ws) w.reject(e)
      },
    )
  }
  return (asked) => {
    if (asked.length === 0) return Promise.resolve([])
    return new Promise<boolean[]>((resolve, reject) => {
      waiting.push({ from: keys.length, n: asked.length, resolve, reject })
      for (const k of asked) keys.push(k)
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    })
  }
}

/**
 * `exists` behind an in-memory "certainly not" (`mayContain`, e.g. a Bloom filter): keys it rules out
 * are answered false at once, only the others are looked up. When it rules out every key the answer
 * is an array, not a promise — the caller goes on without waiting a turn.
 */
export function screenedExists<K>(
  mayContain: (key: K) => boolean,
  exists: (keys: K[]) => Promise<boolean[]>,
): (keys: K[]) => boolean[] | Promise<boolean[]> {
  return (keys) => {
    const out = new Array<boolean>(keys.length).fill(false)
    let maybe: number[] | undefined
    for (let i = 0; i < keys.length; i++) if (mayContain(keys[i])) (maybe ??= []).push(i)
    if (!maybe) return out
    const asked = maybe
    return exists(asked.map((i) => keys[i])).then((found) => {
      asked.forEach((i, j) => {
        out[i] = found[j]
      })
      return out
    })
  }
}
