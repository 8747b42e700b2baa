import { readFileSync, writeFileSync } from 'node:fs'
import {
  type Address,
  AllotError,
  batchCommitments,
  checkThreshold,
  type EpochDealing,
  type EpochPublic,
  type Hex,
  MAX_EPOCH_LENGTH,
  scalarFromHex,
  type ValidatorEpoch,
  verifyShare,
} from '@allot/protocol'

/**
 * The files of a dealt epoch (docs/genesis.md "Sealing epoch files"): the public part every node reads
 * (`epoch-<k>.json`: commitments per height, and the validator order the Shamir indices follow), and one
 * shares file per validator (`keys/shares-<i>.json`, mode 0600: a secret like the validator key).
 */
export interface EpochFile {
  version: 1
  /** Who dealt it: 'trusted-dealer' on devnets (it saw every sk_h). */
  dealer: 'trusted-dealer'
  startHeight: string
  length: number
  n: number
  t: number
  /** Shamir index i belongs to validators[i-1] (the sorted validator set). */
  validators: Address[]
  commitments: Hex[][]
}

export interface SharesFile {
  version: 1
  startHeight: string
  index: number
  validator: Address
  /** shares[k]: this validator's share of sk_{startHeight+k}. */
  shares: Hex[]
}

export function writeEpochFiles(
  d: EpochDealing,
  validators: readonly Address[],
  epochPath: string,
  sharesPath: (index: number) => string,
): void {
  const e: EpochFile = {
    version: 1,
    dealer: 'trusted-dealer',
    startHeight: d.public.startHeight.toString(),
    length: d.public.length,
    n: d.public.n,
    t: d.public.t,
    validators: [...validators],
    commitments: d.public.commitments,
  }
  writeFileSync(epochPath, `${JSON.stringify(e)}\n`)
  for (let i = 1; i <= d.public.n; i++) {
    const s: SharesFile = {
      version: 1,
      startHeight: e.startHeight,
      index: i,
      validator: validators[i - 1],
      shares: d.shares[i - 1],
    }
    writeFileSync(sharesPath(i), `${JSON.stringify(s)}\n`, { mode: 0o600 })
  }
}

function readJson<T>(path: string, what: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T
  } catch (e) {
    throw new AllotError('SEAL_BAD_EPOCH_FILE', `${what} ${path}: ${(e as Error).message}`)
  }
}

/**
 * Reads an epoch file (and this validator's shares file): shape checked by the protocol codec, the
 * validator order checked against `validators` (sorted genesis set), and the shares checked against
 * the commitments at the first height (a wrong file fails at start, not at the first unsealing).
 */
export function readSealingEpoch(
  epochPath: string,
  sharesPath: string | undefined,
  validators: readonly Address[],
): ValidatorEpoch {
  const f = readJson<EpochFile>(epochPath, 'epoch file')
  // The shape decodeEpochPublic checks, without a round trip through the codec (86,400 heights on a
  // day-long devnet: seconds saved at every node start).
  const POINT = /^0x0[23][0-9a-f]{64}$/
  let pub: EpochPublic
  try {
    pub = { startHeight: BigInt(f.startHeight), length: f.length, n: f.n, t: f.t, commitments: f.commitments }
    checkThreshold(pub.n, pub.t)
    if (
      !Number.isInteger(pub.length) ||
      pub.length < 1 ||
      pub.length > MAX_EPOCH_LENGTH ||
      pub.startHeight < 0n
    )
      throw new Error(`bad length ${pub.length}`)
    const ok =
      Array.isArray(pub.commitments) &&
      pub.commitments.length === pub.length &&
      pub.commitments.every(
        (c) => Array.isArray(c) && c.length === pub.t + 1 && c.every((x) => POINT.test(x)),
      )
    if (!ok) throw new Error('commitments do not match length and threshold')
  } catch (e) {
    throw new AllotError('SEAL_BAD_EPOCH_FILE', `epoch file ${epochPath}: ${(e as Error).message}`)
  }
  const same =
    f.validators?.length === validators.length &&
    f.validators.every((v, i) => v.toLowerCase() === validators[i].toLowerCase())
  if (!same)
    throw new AllotError('SEAL_BAD_EPOCH_FILE', `epoch file ${epochPath} names another validator set`)
  if (!sharesPath) return { public: pub, shares: null }
  const s = readJson<SharesFile>(sharesPath, 'shares file')
  if (s.startHeight !== f.startHeight || !Array.isArray(s.shares) || s.shares.length !== pub.length) {
    throw new AllotError(
      'SEAL_BAD_EPOCH_FILE',
      `shares file ${sharesPath} does not match epoch ${f.startHeight}`,
    )
  }
  const ok =
    s.validator?.toLowerCase() === validators[s.index - 1]?.toLowerCase() &&
    verifyShare(batchCommitments(pub, pub.startHeight), s.index, scalarFromHex(s.shares[0]))
  if (!ok)
    throw new AllotError(
      'SEAL_BAD_EPOCH_FILE',
      `shares file ${sharesPath}: share ${s.index} fails its commitments`,
    )
  return { public: pub, shares: s.shares }
}
