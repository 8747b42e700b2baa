/**
 * Sealing (DESIGN "Sealing (sealed bids)"): threshold batch keys (Shamir + Feldman), trusted-dealer
 * epochs for devnets, the DKG for every other epoch, and ECIES-sealed orders. Pure: no I/O.
 */
export * from './dkg.js'
export * from './dkg-wire.js'
export * from './ecies.js'
export * from './epoch.js'
export * from './feldman.js'
export { decodeSignedOrder } from './inner.js'
export {
  CURVE_ORDER,
  defaultRng,
  deterministicRng,
  lagrangeAtZero,
  pointFromHex,
  pointToHex,
  type Rng,
  randomScalar,
  scalarFromHex,
  scalarToBytes,
  scalarToHex,
} from './scalar.js'
export * from './unseal.js'
