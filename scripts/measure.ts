/**
 * The measuring tape every benchmark script shares: run a function for a while, report operations
 * per second, and print a figure beside its ceiling (the same machine, the same run).
 */
export function opsPerSecond(fn: (i: number) => unknown, minMs = 1000, minOps = 20): number {
  for (let i = 0; i < Math.min(minOps, 50); i++) fn(i) // warm up the JIT
  let ops = 0
  const start = performance.now()
  let now = start
  while (now - start < minMs || ops < minOps) {
    fn(ops)
    ops++
    if ((ops & 7) === 0) now = performance.now()
  }
  now = performance.now()
  return (ops * 1000) / (now - start)
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
}

/** One output line: `label: figure unit   (ceiling: name figure unit, ratio)`. */
export function reportAgainst(
  label: string,
  value: number,
  unit: string,
  ceilingLabel: string,
  ceiling: number,
): void {
  const ratio = ceiling > 0 ? value / ceiling : 0
  console.log(
    `${label.padEnd(46)} ${fmt(value).padStart(12)} ${unit}   (ceiling: ${ceilingLabel} ${fmt(ceiling)} ${unit}; ${fmt(ratio * 100, 1)}%)`,
  )
}
