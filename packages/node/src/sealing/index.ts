export {
  memorySealingStore,
  SealingService,
  type SealingServiceOptions,
  type SealingStore,
  type ShareVerdict,
  type StoredEpoch,
} from './service.js'
export { levelSealingStore } from './store.js'
