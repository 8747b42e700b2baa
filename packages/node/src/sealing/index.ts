export { dealDevnetEpoch, devnetEpochLength } from './deal.js'
export {
  type DkgOutcome,
  type DkgSchedule,
  type DkgTransport,
  dkgScheduleOf,
  dkgSharesProtocol,
  dkgTopic,
  EpochDkg,
  type EpochDkgOptions,
} from './dkg.js'
export { nativeDkgOps } from './fast.js'
export { type EpochFile, readSealingEpoch, type SharesFile, writeEpochFiles } from './files.js'
export { keySharesProtocol, wireEpochDkg, wireKeyShareFetch } from './net.js'
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
