import { bool, type Codec, struct, type ValidatorEpoch, validatorEpochCodec } from '@allot/protocol'
import { heightKey, type NodeStorage, Repository } from '../storage/index.js'
import type { SealingStore } from './service.js'

const decidedCodec = struct('SealDecided', { decided: bool }) as Codec<{ decided: boolean }>

/**
 * The sealing service's state in the node's level database: which batches are decided (the
 * persisted half of "never release a share of an undecided batch") and the epochs' keys, keyed by
 * start height. Shares of sk_h are secrets: the data dir must be protected like the validator key.
 */
export function levelSealingStore(storage: NodeStorage): SealingStore {
  const sub = (name: string) => storage.db.sublevel<string, Uint8Array>(name, { valueEncoding: 'view' })
  const decided = new Repository(sub('seal-decided'), heightKey, decidedCodec)
  const epochs = new Repository<bigint, ValidatorEpoch>(sub('seal-epochs'), heightKey, validatorEpochCodec)
  return {
    markDecided: (h) => decided.put(h, { decided: true }),
    isDecided: async (h) => (await decided.get(h))?.decided === true,
    putEpoch: (e) => epochs.put(e.public.startHeight, e),
    listEpochs: async () => {
      const out: ValidatorEpoch[] = []
      for await (const [, e] of epochs.entries()) out.push(e)
      return out
    },
  }
}
