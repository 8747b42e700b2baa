export { answerKey, openAnswer, proveAnswerKey, sealAnswer, verifyAnswerKey } from './answers.js'
export { dealDevnetEpoch, devnetEpochLength } from './deal.js'
export {
  type DkgOutcome,
  type DkgSchedule,
  type DkgTransport,
  dkgScheduleOf,
  EpochDkg,
  type EpochDkgOptions,
} from './dkg.js'
export { nativeDkgOps } from './fast.js'
export { type EpochFile, readSealingEpoch, type SharesFile, writeEpochFiles } from './files.js'
export { wireEpochDkg, wireKeyShareFetch } from './net.js'
export { type SealingOpenerOptions, sealingOpener } from './opener.js'
export {
  type EpochGenerator,
  memorySealingStore,
  SealingService,
  type SealingServiceOptions,
  type SealingStore,
  type ShareVerdict,
  type StoredEpoch,
} from './service.js'
export { levelSealingStore } from './store.js'
export { DkgTranscript, PHASE_OF, PHASES, type TranscriptResult } from './transcript.js'
export {
  broadcastRef,
  type DkgAccusation,
  type DkgBroadcast,
  type DkgComplaintMsg,
  type DkgDealMsg,
  type DkgSealedAnswer,
  type OpenedBroadcast,
  openBroadcast,
  signBroadcast,
} from './wire.js'
