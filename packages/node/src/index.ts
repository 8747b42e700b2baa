export { AllotClient, buildOrder, type ClientOptions, type OrderSpec, sealPlain } from './api/index.js'
export * from './config/index.js'
export {
  type BalanceReader,
  type BatchSchedule,
  type BondReader,
  GenesisClockSchedule,
  type SignatureVerifier,
} from './mempool/index.js'
export { createNodeMetrics, createRegistry, type NodeMetrics } from './metrics/index.js'
export { AllotNode, createNode, loopbackOnly, NODE_VERSION, type NodeOptions } from './node.js'
