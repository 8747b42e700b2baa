import type { OrderStatus } from '@allot/protocol'
import type { AllotClient } from '../api/index.js'
import { formatAssetAmount } from './amounts.js'

/**
 * An order's fill for people, in its assets' decimals: "sold 100 TKA bought 99.5 TKB". A status does not
 * carry the order's assets; its batch's fills do. Undefined when that batch is not known at this node (the
 * caller then prints base units, as `--json` always does).
 */
export async function filledText(c: AllotClient, s: OrderStatus): Promise<string | undefined> {
  if (!s.filled || s.batch === null) return undefined
  const [batch, info] = await Promise.all([c.batch(s.batch).catch(() => undefined), c.info()])
  const f = batch?.fills.find((x) => x.orderId === s.orderId)
  if (!f) return undefined
  const name = (id: string) => info.assets.find((a) => a.assetId === id)?.symbol ?? id
  return (
    `sold ${formatAssetAmount(info.assets, f.sellAsset, s.filled.sold)} ${name(f.sellAsset)} ` +
    `bought ${formatAssetAmount(info.assets, f.buyAsset, s.filled.bought)} ${name(f.buyAsset)}`
  )
}
