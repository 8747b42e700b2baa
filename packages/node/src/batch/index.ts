export { contractChainView, contractSettler } from './chain.js'
export { exportedBatchOf, exportHeader, historyBatchOf } from './export.js'
export {
  BatchPipeline,
  type BatchPipelineOptions,
  type ChainView,
  FAULT_POINTS,
  type FaultPoint,
  type Settler,
} from './pipeline.js'
export { type BatchBook, batchBookCodec } from './record.js'
export { innerOrderError, isExhausted, MAX_ORDER_AMOUNT, remainderOf } from './rules.js'
export { type BatchOpener, type InvalidOrder, type OpenedOrder, plainOpener } from './unseal.js'
