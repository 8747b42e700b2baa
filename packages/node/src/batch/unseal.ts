import type { Address, Hex, SealedOrder, SignedOrder } from '@allot/protocol'

/** An order of a decided batch whose content is now readable. */
export interface OpenedOrder {
  id: Hex
  envelope: SealedOrder
  signed: SignedOrder
  /** The opener already checked the inner signature (unsealing does, with the fast backend). */
  signatureChecked?: boolean
}

/** An order of a decided batch that did not open into a valid order: its trader pays `invalidOrderFee`. */
export interface InvalidOrder {
  id: Hex
  trader: Address
  code: string
  message: string
}

/**
 * Opens the orders of a decided batch. With sealing on, the sealing service rebuilds the batch key from
 * the validators' released shares and decrypts; the plain opener below serves networks (tests) without it.
 */
export interface BatchOpener {
  open(
    height: bigint,
    orders: { id: Hex; envelope: SealedOrder }[],
  ): Promise<{ opened: OpenedOrder[]; invalid: InvalidOrder[] }>
}

/** Plain payloads only (networks with sealing off, which exist only in tests of the layers below it). */
export const plainOpener: BatchOpener = {
  async open(_height, orders) {
    const opened: OpenedOrder[] = []
    const invalid: InvalidOrder[] = []
    for (const { id, envelope } of orders) {
      if (envelope.payload.kind === 'plain') opened.push({ id, envelope, signed: envelope.payload.order })
      else
        invalid.push({
          id,
          trader: envelope.trader,
          code: 'SEAL_NO_KEY',
          message: 'sealed order on a network without sealing keys',
        })
    }
    return { opened, invalid }
  },
}
