export { dealDevnetEpoch, devnetEpochLength } from './deal.js'
export { type EpochFile, readSealingEpoch, type SharesFile, writeEpochFiles } from './files.js'
export { type SealingOpenerOptions, sealingOpener } from './opener.js'
export {
  memorySealingStore,
  SealingService,
  type SealingServiceOptions,
  type SealingStore,
  type ShareVerdict,
  type StoredEpoch,
} from './service.js'
export { levelSealingStore } from './store.js'
