// Memory: RSS of a node process holding 100k orders in its mempool (goal < 300 MB), beside the same
// node's RSS when empty. The orders are sealed (what a network holds: ~470-byte envelopes in the
// first padding class), added straight to the mempool (durable, indexed, as intake would leave them);
// signatures are not what this measures.
import '@allot/protocol/polyfill'
import { encodeSealedOrder } from '@allot/protocol'
import { benchGenesis, makeSealedOrders, NodeProcess } from './support.js'

const N = Number(process.env.MEMORY_ORDERS ?? 100_000)
const node = NodeProcess.spawn({ genesis: benchGenesis('memory'), threads: 1, backend: 'native' }, [
  '--expose-gc',
])
try {
  await node.call('info')
  const empty = await node.call<{ rss: number; heap: number }>('rss')
  const [template] = makeSealedOrders(1, 1, 5)
  const t0 = performance.now()
  const full = await node.call<{ size: number; rss: number; heap: number }>(
    'fill',
    { n: N, template: `0x${Buffer.from(encodeSealedOrder(template)).toString('hex')}` },
    600_000,
  )
  const secs = (performance.now() - t0) / 1000
  const mb = (b: number) => (b / 1024 / 1024).toFixed(0)
  console.log(`sealed envelopes of ${encodeSealedOrder(template).length} bytes`)
  console.log(`empty node: RSS ${mb(empty.rss)} MB (heap ${mb(empty.heap)} MB)`)
  console.log(
    `${full.size} orders: RSS ${mb(full.rss)} MB (heap ${mb(full.heap)} MB) — goal < 300 MB; ${((full.rss - empty.rss) / full.size).toFixed(0)} B/order over empty; filled in ${secs.toFixed(1)} s`,
  )
} finally {
  await node.kill()
}
