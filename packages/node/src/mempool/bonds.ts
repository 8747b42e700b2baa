import type { Address } from '@allot/protocol'

/**
 * What intake needs to know of a trader's bond. The settlement adapter supplies the real one
 * (escrow balances at the confirmed chain head); until then a genesis allowance stands in.
 */
export interface BondReader {
  /** The trader's bond (in the genesis bond token) as far as intake can tell; may be cached. */
  bondOf(trader: Address): Promise<bigint> | bigint
}

/** Every trader holds `allowance`, except those listed (devnets and tests). */
export class GenesisBondReader implements BondReader {
  constructor(
    private readonly allowance: bigint,
    private readonly overrides: ReadonlyMap<Address, bigint> = new Map(),
  ) {}
  bondOf(trader: Address): bigint {
    return this.overrides.get(trader.toLowerCase() as Address) ?? this.allowance
  }
}

/** One asset balance of a trader, as `allot balance` shows it. */
export interface AssetBalance {
  asset: `0x${string}`
  escrow: bigint
  available: bigint
  pendingWithdrawal: bigint
}

/** Balances as the API serves them; the settlement adapter supplies the chain-backed one. */
export interface BalanceReader {
  balancesOf(trader: Address): Promise<AssetBalance[]>
}

/** Until a chain is wired: the genesis bond allowance in the bond token, nothing else. */
export class GenesisBalanceReader implements BalanceReader {
  constructor(
    private readonly bondAsset: `0x${string}`,
    private readonly bonds: BondReader,
  ) {}
  async balancesOf(trader: Address): Promise<AssetBalance[]> {
    const b = await this.bonds.bondOf(trader)
    return [{ asset: this.bondAsset, escrow: b, available: b, pendingWithdrawal: 0n }]
  }
}
