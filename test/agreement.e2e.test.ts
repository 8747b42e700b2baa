/**
 * Agreement at process level (issue #6, "Done means"): a real devnet — anvil, the settlement contract,
 * sealing as `allot devnet up` sets it up — with 4 validator processes. An observer (a libp2p host, not a
 * validator) records every proposal, vote and result attestation gossiped, each checked against its signer.
 *
 * 1. all four decide and certify batches continuously;
 * 2. SIGKILL one: the other three keep deciding;
 * 3. restart it: it catches up (its height reaches the others') and signs nothing twice;
 * 4. SIGKILL two: no batch is decided, nothing forks;
 * 5. one comes back: they resume deciding within a few seconds;
 *    (before that, one of the two survivors is SIGKILLed while stuck at the stalled height and restarted:
 *    it restores what it signed there from its write-ahead records, and still nothing is decided);
 * 6. every process stopped, the validators' stores are read: every node holds the same decided batch and
 *    the same certificate at every height, every stored precommit and write-ahead record agrees with what
 *    was gossiped, and no validator signed two different things in one slot.
 *
 * Every process is stopped by PID in afterAll, even on failure.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Genesis, loadGenesis } from '@allot/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Commit,
  commitCodec,
  contentHash,
  type SignedRecord,
  signedRecordCodec,
} from '../packages/node/src/consensus/index.js'
import {
  type DevnetFile,
  devnetDown,
  devnetKill,
  devnetPaths,
  devnetRestart,
  devnetStatus,
  devnetUp,
  isAlive,
  killProcess,
} from '../packages/node/src/devnet/index.js'
import { heightKey, NodeStorage, Repository, stringKey } from '../packages/node/src/storage/index.js'
import { ConsensusObserver } from './support/consensus-observer.js'

const BATCH_MS = 1000
const dir = mkdtempSync(join(tmpdir(), 'allot-agree-'))
/** Every PID this test learned of (the chain, each validator, each restart): afterAll stops them all. */
const pids = new Set<number>()
let devnet: DevnetFile
let genesis: Genesis
let observer: ConsensusObserver | undefined

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function learnPids(): void {
  try {
    const d = JSON.parse(readFileSync(devnetPaths(dir).devnet, 'utf8')) as DevnetFile
    if (d.chainPid) pids.add(d.chainPid)
    for (const n of d.nodes) pids.add(n.pid)
  } catch {
    // devnet.json not written yet: devnetUp stops what it started when it fails
  }
}

async function until<T>(
  what: string,
  timeoutMs: number,
  check: () => Promise<T | undefined> | T | undefined,
) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const v = await check()
    if (v !== undefined && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out (${timeoutMs} ms) waiting for ${what}`)
    await sleep(500)
  }
}

/** The `consensus starts` lines of a validator's log: the height it started at and the records it restored. */
function consensusStarts(i: number): { height: string; records: number }[] {
  return readFileSync(devnetPaths(dir).nodeLog(i), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"consensus starts"'))
    .map((l) => JSON.parse(l) as { height: string; records: number })
}

const status = async () => (await devnetStatus(dir)).nodes

function noDoubleSigns(): void {
  expect(observer!.conflicts()).toEqual([])
  expect(observer!.forks()).toEqual([])
  expect(observer!.resultForks()).toEqual([])
  expect(observer!.counts.refused).toBe(0)
}

describe('agreement on 4 validator processes: crash, restart, 2 of 4 down', () => {
  beforeAll(async () => {
    try {
      devnet = await devnetUp({
        dir,
        validators: 4,
        batchMs: BATCH_MS,
        accounts: 1,
        chain: 'anvil',
        reset: false,
        readyTimeoutMs: 90_000,
      })
    } finally {
      learnPids()
    }
    genesis = loadGenesis(devnetPaths(dir).genesis)
    observer = new ConsensusObserver(genesis)
    await observer.start(devnet.nodes.map((n) => n.api))
    await until('the observer on the consensus mesh', 20_000, () => observer!.topicPeers() >= 3 || undefined)
  }, 180_000)

  afterAll(async () => {
    await observer?.stop().catch(() => undefined)
    learnPids()
    await devnetDown(dir, false).catch(() => undefined)
    for (const pid of pids) if (isAlive(pid)) killProcess(pid)
    await until('every process gone', 10_000, () => [...pids].every((p) => !isAlive(p)) || undefined).catch(
      () => undefined,
    )
    if (process.env.ALLOT_KEEP_DEVNET) console.log(`devnet kept in ${dir}`)
    else rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  it('four validators decide and certify batches continuously', async () => {
    // The observer joined after the first batches: count from the first height it saw whole.
    await until('a first decision seen', 20_000, () => (observer!.topDecided() > 0n ? true : undefined))
    const decided = observer!.topDecided()
    const certified = observer!.topCertified()
    let from = decided
    if (certified > from) from = certified
    await until('3 more certified batches', 30_000, () => observer!.topCertified() >= from + 3n || undefined)
    const top = observer!.topCertified()
    for (let h = from + 1n; h <= top; h++) {
      expect(observer!.decidedAt.has(h), `height ${h} decided`).toBe(true)
      expect(observer!.certifiedAt.has(h), `height ${h} certified`).toBe(true)
    }
    const s = await status()
    expect(s.every((n) => n.up)).toBe(true)
    noDoubleSigns()
  }, 60_000)

  it('SIGKILL one validator: the other three keep deciding', async () => {
    devnetKill(dir, 3)
    await until('validator 3 gone', 5_000, () => !isAlive(devnet.nodes[3].pid) || undefined)
    const from = observer!.topDecided()
    await until('3 more decided batches without validator 3', 30_000, () =>
      observer!.topDecided() >= from + 3n ? true : undefined,
    )
    const s = await status()
    expect(s[3].up).toBe(false)
    expect(s.slice(0, 3).every((n) => n.up && BigInt(n.height) > from)).toBe(true)
    noDoubleSigns()
  }, 60_000)

  it('restarted, it catches up to the others and signs nothing twice', async () => {
    const restartedAt = Date.now()
    pids.add((await devnetRestart(dir, 3)).pid)
    const up = await until('validator 3 answering', 120_000, async () => {
      const s = await status()
      return s[3].up ? s : undefined
    })
    const answeredAt = Date.now()
    const target = Math.max(...up.slice(0, 3).map((n) => n.height))
    const caught = await until('validator 3 at the others’ height', 30_000, async () => {
      const s = await status()
      return s[3].height >= target ? s : undefined
    })
    console.log(
      `validator 3 answered ${answeredAt - restartedAt} ms after its restart; reached height ${caught[3].height} ` +
        `(the others' height when it answered: ${target}) ${Date.now() - answeredAt} ms later`,
    )
    // It takes part again: its own precommits appear for heights decided after it caught up.
    const address = devnet.nodes[3].validator
    const after = BigInt(caught[3].height)
    await until('validator 3 precommitting again', 30_000, () =>
      observer!.precommitted(address, after) ? true : undefined,
    )
    await until('validator 3 certifying', 30_000, async () => {
      const s = await status()
      return s[3].finalized >= target ? true : undefined
    })
    noDoubleSigns()
  }, 180_000)

  let stalledAt = 0n
  it('with 2 of 4 down, no batch is decided and nothing forks', async () => {
    devnetKill(dir, 2)
    devnetKill(dir, 3)
    await until('validators 2 and 3 gone', 5_000, () =>
      [2, 3].every((i) => !isAlive(JSON.parse(readFileSync(devnetPaths(dir).devnet, 'utf8')).nodes[i].pid))
        ? true
        : undefined,
    )
    // A decision already in flight (its precommits sent before the kill) may still land: let it.
    await sleep(2 * BATCH_MS)
    stalledAt = observer!.topDecided()
    const before = (await status()).slice(0, 2).map((n) => n.height)
    await sleep(6 * BATCH_MS)
    expect(observer!.topDecided()).toBe(stalledAt)
    const after = await status()
    expect(after.slice(0, 2).every((n) => n.up)).toBe(true)
    expect(after.slice(0, 2).map((n) => n.height)).toEqual(before)
    noDoubleSigns()
  }, 60_000)

  it('a validator killed while stuck at that height restarts from its write-ahead records', async () => {
    // Validators 0 and 1 have prevoted at the stalled height (and cannot get further with 2 of 4).
    devnetKill(dir, 1)
    pids.add((await devnetRestart(dir, 1)).pid)
    await until('validator 1 answering', 120_000, async () => ((await status())[1].up ? true : undefined))
    await sleep(2 * BATCH_MS)
    // It restored what it had signed at the stalled height, and still nothing is decided.
    const starts = consensusStarts(1)
    const last = starts[starts.length - 1]
    expect(starts.length).toBe(2)
    expect(BigInt(last.height)).toBe(stalledAt + 1n)
    expect(last.records).toBeGreaterThan(0)
    expect(observer!.topDecided()).toBe(stalledAt)
    noDoubleSigns()
  }, 180_000)

  it('one of them back: they resume deciding within a few seconds', async () => {
    const t0 = Date.now()
    const { pid } = await devnetRestart(dir, 3)
    pids.add(pid)
    const up = await until('validator 3 answering', 120_000, async () =>
      (await status())[3].up ? Date.now() : undefined,
    )
    const resumed = await until('a decision after the stall', 30_000, () =>
      observer!.topDecided() > stalledAt ? Date.now() : undefined,
    )
    console.log(
      `resumed: first decision ${resumed - t0} ms after the restart, ${resumed - up} ms after validator 3 answered`,
    )
    expect(resumed - up).toBeLessThan(10_000)
    noDoubleSigns()
  }, 180_000)

  it('stopped, every store holds the same decided batches and certificates; nobody signed twice', async () => {
    // Three validators (0, 1, 3) decide on; 2 stays down — its store is compared up to where it stopped.
    await until('more decisions after the resumption', 30_000, () =>
      observer!.topDecided() >= stalledAt + 3n ? true : undefined,
    )
    learnPids()
    await devnetDown(dir, false)
    for (const p of pids) expect(isAlive(p), `pid ${p} stopped`).toBe(false)

    // The stores, read after every process stopped.
    const decided = new Map<bigint, string>()
    const certified = new Map<bigint, string>()
    let commits = 0
    let records = 0
    for (const n of devnet.nodes) {
      const s = await NodeStorage.open(join(devnetPaths(dir).nodeData(n.index), 'db'))
      try {
        const commitRepo = new Repository(
          s.db.sublevel<string, Uint8Array>('commits', { valueEncoding: 'view' }),
          heightKey,
          commitCodec,
        )
        const wal = new Repository(
          s.db.sublevel<string, Uint8Array>('consensus-wal', { valueEncoding: 'view' }),
          stringKey,
          signedRecordCodec,
        )
        for await (const [h, c] of commitRepo.entries()) {
          commits++
          checkCommit(h, c, decided)
        }
        for await (const [h, b] of s.batches.entries()) expect(contentHash(b)).toBe(decided.get(h))
        for await (const [h, cert] of s.certificates.entries()) {
          const prev = certified.get(h)
          if (prev) expect(cert.resultHash, `certificate at ${h}`).toBe(prev)
          certified.set(h, cert.resultHash)
        }
        for await (const [, r] of wal.entries()) {
          records++
          addRecord(r)
        }
      } finally {
        await s.close()
      }
    }
    console.log(
      `stores: ${commits} commits over ${decided.size} heights, ${certified.size} certificates, ${records} write-ahead records; ` +
        `observer: ${observer!.counts.proposals} proposals, ${observer!.counts.votes} votes, ${observer!.counts.results} results`,
    )
    expect(decided.size).toBeGreaterThanOrEqual(10)
    // What the observer saw decided is what the nodes stored.
    for (const [h, v] of decided) {
      const seen = observer!.decidedValue(h)
      if (seen) expect(seen, `height ${h}`).toBe(v)
    }
    noDoubleSigns()
  }, 180_000)
})

/** A stored commit: its precommits are a quorum for its content, each validly signed; one value per height. */
function checkCommit(h: bigint, c: Commit, decided: Map<bigint, string>): void {
  const v = contentHash(c.content)
  expect(c.content.height).toBe(h)
  const prev = decided.get(h)
  if (prev) expect(v, `decided batch at ${h}`).toBe(prev)
  decided.set(h, v)
  const signers = new Set<string>()
  for (const p of c.precommits) {
    expect(observer!.addVote(p), `stored precommit signature at ${h}`).toBe(true)
    if (p.valueHash === v && p.round === c.round) signers.add(p.validator.toLowerCase())
  }
  expect(signers.size).toBeGreaterThanOrEqual(3)
}

/** A write-ahead record left in a store (undecided heights): checked against what was gossiped. */
function addRecord(r: SignedRecord): void {
  if (r.kind === 'proposal') observer!.onProposal(r.proposal)
  else expect(observer!.addVote(r.vote)).toBe(true)
}
