/**
 * Consensus: Tendermint BFT on each batch's content, result attestation, and the deterministic simulation
 * that tries to break them (sim/, not exported: it is a test tool).
 */
export * from './attestation.js'
export * from './driver.js'
export * from './schedule.js'
export * from './service.js'
export * from './signatures.js'
export * from './tendermint.js'
export * from './validate.js'
export * from './wire.js'
