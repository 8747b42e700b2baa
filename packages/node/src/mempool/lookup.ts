/**
 * `exists(key)` that gathers the keys asked during one macrotask into a single `getMany`: intake asks
 * level whether each new order already had a final status, and a burst of orders made that one
 * native round trip per order (measured: ~40 µs of CPU each, against a few µs per key in a getMany).
 */
export function batchedExists<K>(getMany: (keys: K[]) => Promise<unknown[]>): (key: K) => Promise<boolean> {
  let keys: K[] = []
  let waiting: { resolve: (v: boolean) => void; reject: (e: unknown) => void }[] = []
  let scheduled = false
  const flush = (): void => {
    scheduled = false
    const ks = keys
    const ws = waiting
    keys = []
    waiting = []
    getMany(ks).then(
      (vs) => {
        for (let i = 0; i < ws.length; i++) ws[i].resolve(vs[i] !== undefined)
      },
      (e) => {
        for (const w of ws) w.reject(e)
      },
    )
  }
  return (key) =>
    new Promise<boolean>((resolve, reject) => {
      keys.push(key)
      waiting.push({ resolve, reject })
      if (!scheduled) {
        scheduled = true
        setImmediate(flush)
      }
    })
}
