import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, join } from 'node:path'
import { AllotError, addressOf, randomPrivateKey, toHex } from '@allot/protocol'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { Address, Hex } from 'viem'
import { mnemonicToAccount } from 'viem/accounts'
import { AllotClient } from '../api/index.js'
import { createPeerKeyFile, type Genesis, genesisToJson, parseGenesis } from '../config/index.js'
import { dealDevnetEpoch, devnetEpochLength, writeEpochFiles } from '../sealing/index.js'
import {
  ANVIL_DEFAULT_KEYS,
  anvilBinaryPath,
  connectChain,
  DEFAULT_MAX_FILLS_PER_BATCH,
  deploySettlement,
  deployTestToken,
  depositToEscrow,
  mintTestToken,
  requireWallet,
  stopPid,
} from '../settlement/index.js'
import { type DevnetFile, type LaunchFile, paths, readDevnet, readLaunch, writeJson } from './layout.js'
import { freePorts, isAlive, killProcess, spawnBackground, waitFor } from './processes.js'

export interface DevnetUpOptions {
  dir: string
  validators: number
  batchMs: number
  accounts: number
  /** 'anvil' (start one) or the RPC URL of a chain to use. */
  chain: string
  reset: boolean
  /** Progress lines for humans (stderr); the caller decides where they go. */
  progress?: (line: string) => void
  readyTimeoutMs?: number
}

const E18 = 10n ** 18n
/** CLI.md: 1,000,000 whole tokens of each test token for each account, deposited in escrow. */
const ACCOUNT_FUNDS = 1_000_000n * E18
const DEVNET_CHAIN_ID = 31337

const require = createRequire(import.meta.url)

/**
 * The command line that starts a validator process: the CLI's `node start`, run the way this module
 * runs. Compiled (dist/, or the bundle the `allot` bin runs), the validators run the compiled CLI with plain node; from
 * source (tests, `tsx`), they run the TypeScript sources through tsx, which is then installed (a
 * development dependency), with the workspace packages resolved to their sources (docs/build.md).
 */
export function nodeCommand(args: string[]): { command: string; args: string[] } {
  const here = import.meta.dirname
  const compiled = import.meta.url.endsWith('.js')
  // Bundled (dist/cli-bundle/, the bin), its main sits beside this code; compiled per file, in ../cli.
  const main =
    basename(here) === 'cli-bundle'
      ? join(here, 'main.js')
      : join(here, '..', 'cli', compiled ? 'main.js' : 'main.ts')
  if (compiled) return { command: process.execPath, args: [main, ...args] }
  let tsx: string
  try {
    tsx = require.resolve('tsx')
  } catch {
    throw new AllotError(
      'DEVNET_TOOL_MISSING',
      'running allot from its TypeScript sources needs tsx (a development dependency): pnpm install',
    )
  }
  return {
    command: process.execPath,
    args: ['--conditions=allot-source', '--import', tsx, main, ...args],
  }
}

async function rpcReady(url: string): Promise<boolean> {
  try {
    const r = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(1000),
    })
    return r.ok
  } catch {
    return false
  }
}

/** Stops every process a devnet started, by PID (validators first, then the chain). */
async function stopAll(dir: string): Promise<number> {
  if (!existsSync(paths(dir).devnet)) return 0
  const d = readDevnet(dir)
  const pids = d.nodes.map((n) => n.pid)
  await Promise.all(pids.map((p) => stopPid(p)))
  if (d.chainPid) await stopPid(d.chainPid)
  return pids.length + (d.chainPid ? 1 : 0)
}

/** Most funded trader accounts a devnet makes (`--accounts`). */
export const MAX_DEVNET_ACCOUNTS = 500
/** anvil's mnemonic: its ten funded accounts are m/44'/60'/0'/0/0…9; devnet accounts beyond come from it too. */
const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk'
/** ETH each account beyond anvil's own gets from the deployer, for gas. */
const DERIVED_ACCOUNT_ETH = 10n * 10n ** 18n

/**
 * Trader account i (1-based): anvil's default account i while there is one (funded with ETH by anvil), then
 * the same mnemonic's m/44'/60'/0'/0/i, which the deployer funds (anvil holds ten accounts, hence the old
 * limit of 9 traders).
 */
export function devnetAccountKey(i: number): Hex {
  if (i < ANVIL_DEFAULT_KEYS.length) return ANVIL_DEFAULT_KEYS[i] as Hex
  const k = mnemonicToAccount(ANVIL_MNEMONIC, { addressIndex: i }).getHdKey().privateKey
  if (!k) throw new AllotError('DEVNET_FAILED', `no key for devnet account ${i}`)
  return toHex(k)
}

function checkSizes(o: { validators: number; accounts: number }): void {
  if (o.validators < 1) throw new AllotError('CLI_BAD_FLAG', '--validators must be at least 1')
  if (o.accounts < 1 || o.accounts > MAX_DEVNET_ACCOUNTS) {
    throw new AllotError('CLI_BAD_FLAG', `--accounts must be between 1 and ${MAX_DEVNET_ACCOUNTS}`)
  }
}

export async function devnetUp(o: DevnetUpOptions): Promise<DevnetFile> {
  const say = o.progress ?? (() => {})
  const p = paths(o.dir)
  if (existsSync(p.devnet)) {
    if (!o.reset) {
      throw new AllotError(
        'DEVNET_EXISTS',
        `a devnet already lives in ${o.dir}: \`allot devnet status --dir ${o.dir}\` shows it; \`allot devnet up --reset\` replaces it`,
      )
    }
    say(`resetting ${o.dir}: stopping its processes`)
    await stopAll(o.dir)
  }
  if (o.reset) rmSync(o.dir, { recursive: true, force: true })
  checkSizes(o)
  mkdirSync(p.logs, { recursive: true })
  mkdirSync(p.keys, { recursive: true })

  // Everything started from here on is stopped again if `up` fails half way.
  const started: number[] = []
  try {
    // 1. The chain.
    let rpcUrl: string
    let chainPid: number | null = null
    if (o.chain === 'anvil') {
      const [port] = await freePorts(1)
      say(`starting anvil on 127.0.0.1:${port}`)
      mkdirSync(join(o.dir, 'chain'), { recursive: true })
      const anvil = spawnBackground(
        anvilBinaryPath(),
        ['--host', '127.0.0.1', '--port', String(port), '--chain-id', String(DEVNET_CHAIN_ID)],
        { logFile: p.chainLog },
      )
      chainPid = anvil.pid
      started.push(anvil.pid)
      rpcUrl = `http://127.0.0.1:${port}`
      await waitFor(async () => ((await rpcReady(rpcUrl)) ? true : undefined), {
        timeoutMs: 20_000,
        intervalMs: 100,
        onTimeout: () =>
          new AllotError('DEVNET_CHAIN', `anvil did not answer on ${rpcUrl}; see ${p.chainLog}`),
      })
    } else {
      rpcUrl = o.chain
      if (!(await rpcReady(rpcUrl))) throw new AllotError('DEVNET_CHAIN', `no chain answers at ${rpcUrl}`)
    }

    // 2–6. Keys, contracts, funded accounts, the first sealing epoch and the genesis.
    const n = o.validators
    const ports = await freePorts(3 * n)
    const p2pPort = (i: number) => ports[3 * i]
    const metricsPort = (i: number) => ports[3 * i + 1]
    const httpPort = (i: number) => ports[3 * i + 2]
    const net = await provisionNetwork({
      dir: o.dir,
      rpcUrl,
      validators: n,
      accounts: o.accounts,
      batchMs: o.batchMs,
      multiaddr: (i, peerId) => `/ip4/127.0.0.1/tcp/${p2pPort(i)}/p2p/${peerId}`,
      // The node finds its identity in its data directory (`loadOrCreatePeerKey`).
      peerKeyFile: (i) => join(p.nodeData(i), 'peer-key'),
      say,
    })
    const { genesis, chainId, settlement, tokens, validators, peerIds, accounts } = net
    const multiaddr = (i: number) => genesis.validators[i].multiaddr

    // 7. Validators, as background processes.
    const launch: LaunchFile = { nodes: [] }
    const nodes: DevnetFile['nodes'] = []
    for (let i = 0; i < n; i++) {
      const args = [
        'node',
        'start',
        '--genesis',
        p.genesis,
        '--data',
        p.nodeData(i),
        '--listen',
        `/ip4/127.0.0.1/tcp/${p2pPort(i)}`,
        '--validator-key',
        p.validatorKey(i),
        '--rpc-url',
        rpcUrl,
        '--sealing-epoch',
        net.epochFile,
        '--sealing-shares',
        net.sharesFile(i),
        '--metrics-port',
        String(metricsPort(i)),
        '--http',
        String(httpPort(i)),
        ...Array.from({ length: n }, (_, j) => j)
          .filter((j) => j !== i)
          .flatMap((j) => ['--bootstrap', multiaddr(j)]),
      ]
      const cmd = nodeCommand(args)
      const proc = spawnBackground(cmd.command, cmd.args, { logFile: p.nodeLog(i) })
      started.push(proc.pid)
      launch.nodes.push({ index: i, args, logFile: p.nodeLog(i) })
      nodes.push({
        index: i,
        peerId: peerIds[i],
        validator: validators[i],
        api: multiaddr(i),
        http: `http://127.0.0.1:${httpPort(i)}`,
        metrics: `http://127.0.0.1:${metricsPort(i)}/metrics`,
        pid: proc.pid,
      })
    }
    const file: DevnetFile = {
      networkId: genesis.networkId,
      chainId,
      rpcUrl,
      chainPid,
      settlement,
      tokens,
      nodes,
      accounts,
    }
    writeJson(p.launch, launch)
    writeJson(p.devnet, file)
    say(`started ${n} validators; logs in ${p.logs}`)

    // 7. Ready: every validator answers, sees its peers, and a first batch is finalized.
    const deadline = o.readyTimeoutMs ?? 120_000
    await waitFor(
      async () => {
        const s = await devnetStatus(o.dir)
        const ready = s.nodes.every((x) => x.up && x.peers >= Math.min(n - 1, 1) && x.finalized >= 1)
        return ready ? true : undefined
      },
      {
        timeoutMs: deadline,
        intervalMs: 500,
        onTimeout: () =>
          new AllotError(
            'DEVNET_NOT_READY',
            `validators did not finalize a first batch in ${deadline / 1000} s; see ${p.logs}`,
          ),
      },
    )
    say('connected, and a first batch is finalized')
    return file
  } catch (e) {
    for (const pid of started.reverse()) killProcess(pid)
    throw e
  }
}

export interface ProvisionOptions {
  dir: string
  rpcUrl: string
  validators: number
  accounts: number
  batchMs: number
  /** Where validator i is reached by the others (its genesis multiaddr), given its peer id. */
  multiaddr: (i: number, peerId: string) => string
  /** Where validator i's network identity (libp2p key) is written. */
  peerKeyFile: (i: number) => string
  say: (line: string) => void
}

export interface ProvisionedNetwork {
  genesis: Genesis
  chainId: number
  settlement: string
  tokens: DevnetFile['tokens']
  /** Validator addresses, in validator index order. */
  validators: string[]
  peerIds: string[]
  accounts: DevnetFile['accounts']
  epochFile: string
  sharesFile: (i: number) => string
  validatorKeyFile: (i: number) => string
}

/**
 * Everything a devnet's validators need before they start, on a chain that answers at `rpcUrl`:
 * validator keys and network identities, the test tokens and the settlement contract, funded trader
 * accounts with their deposits, the first sealing epoch (trusted dealer) and the genesis — written
 * under `dir` (`keys/`, `epoch-0.json`, `genesis.json`). Shared by `devnet up` and `devnet init`.
 */
export async function provisionNetwork(o: ProvisionOptions): Promise<ProvisionedNetwork> {
  checkSizes(o)
  const say = o.say
  const p = paths(o.dir)
  mkdirSync(p.keys, { recursive: true })
  const rpcUrl = o.rpcUrl

  // Keys: validator keys (on-chain identities) and network identities (peer ids).
  const n = o.validators
  const f = Math.floor((n - 1) / 3)
  const validatorKeys = Array.from({ length: n }, () => randomPrivateKey())
  const validators = validatorKeys.map((k) => addressOf(k))
  for (const [i, k] of validatorKeys.entries())
    writeFileSync(p.validatorKey(i), `${toHex(k)}\n`, { mode: 0o600 })
  const peerIds: string[] = []
  for (let i = 0; i < n; i++) {
    const key = await createPeerKeyFile(o.peerKeyFile(i))
    peerIds.push(peerIdFromPrivateKey(key).toString())
  }
  say(`generated ${n} validator keys (f = ${f}, quorum ${2 * f + 1})`)

  // Contracts: three test tokens and the settlement contract.
  const deployer = await connectChain({
    rpcUrl,
    privateKey: ANVIL_DEFAULT_KEYS[0] as Hex,
    pollingIntervalMs: 50,
  })
  const chainId = deployer.chain.id
  const tka = await deployTestToken(deployer, { name: 'Test Token A', symbol: 'TKA', decimals: 18 })
  const tkb = await deployTestToken(deployer, { name: 'Test Token B', symbol: 'TKB', decimals: 18 })
  const tkc = await deployTestToken(deployer, { name: 'Test Token C', symbol: 'TKC', decimals: 18 })
  const tokens = { TKA: tka, TKB: tkb, TKC: tkc }
  const settlement = await deploySettlement(deployer, {
    validators: validators as Address[],
    quorum: 2 * f + 1,
    feeBps: 0,
    escapeBlocks: 1_000_000,
    bondToken: tka,
    invalidOrderFee: E18 / 10n,
    feeAccount: deployer.account!.address.toLowerCase() as Address,
  })
  say(`deployed AllotSettlement ${settlement}, TKA ${tka}, TKB ${tkb}, TKC ${tkc}`)

  // Validators pay the gas of settling: give each 100 ETH from the deployer.
  const { walletClient, account } = requireWallet(deployer)
  for (const v of validators) {
    const hash = await walletClient.sendTransaction({ account, to: v as Address, value: 100n * E18 })
    await deployer.publicClient.waitForTransactionReceipt({ hash })
  }

  // Funded trader accounts: anvil's default accounts 1..9 (they hold ETH for gas), then accounts derived from
  // the same mnemonic, given ETH by the deployer. The deployer's transactions go one by one (one nonce
  // sequence); each trader's approvals and deposits are its own, so several traders deposit at once.
  const accounts = Array.from({ length: o.accounts }, (_, j) => {
    const privateKey = devnetAccountKey(j + 1)
    return { address: addressOf(Uint8Array.from(Buffer.from(privateKey.slice(2), 'hex'))), privateKey }
  })
  for (const [i, a] of accounts.entries()) {
    if (i + 1 >= ANVIL_DEFAULT_KEYS.length) {
      const hash = await walletClient.sendTransaction({
        account,
        to: a.address as Address,
        value: DERIVED_ACCOUNT_ETH,
      })
      await deployer.publicClient.waitForTransactionReceipt({ hash })
    }
    for (const token of [tka, tkb, tkc])
      await mintTestToken(deployer, token, a.address as Address, ACCOUNT_FUNDS)
  }
  const DEPOSITING_AT_ONCE = 8
  for (let from = 0; from < accounts.length; from += DEPOSITING_AT_ONCE) {
    await Promise.all(
      accounts.slice(from, from + DEPOSITING_AT_ONCE).map(async (a, k) => {
        const trader = await connectChain({
          rpcUrl,
          chainId,
          privateKey: a.privateKey as Hex,
          pollingIntervalMs: 50,
        })
        for (const token of [tka, tkb, tkc]) await depositToEscrow(trader, settlement, token, ACCOUNT_FUNDS)
        say(`account ${from + k} ${a.address}: 1,000,000 TKA, TKB and TKC minted and deposited`)
      }),
    )
  }

  // The first sealing epoch, from a trusted dealer (docs/sealing.md): n validators, t = f, one
  // key per batch for six hours of batches. Shamir index i is the i-th validator in sorted-address order.
  const sortedValidators = validators.map((v) => v.toLowerCase() as Address).sort()
  const epochLength = devnetEpochLength(o.batchMs)
  const dealt = dealDevnetEpoch({ startHeight: 1n, length: epochLength, n, t: f })
  const sharesFile = (i: number) => join(p.keys, `shares-${i}.json`)
  const epochFile = join(o.dir, 'epoch-0.json')
  writeEpochFiles(dealt, sortedValidators, epochFile, (index) =>
    sharesFile(validators.findIndex((v) => v.toLowerCase() === sortedValidators[index - 1])),
  )
  const hours = ((epochLength * o.batchMs) / 3_600_000).toFixed(1)
  say(
    `sealing: the first epoch (batches 1..${epochLength}, about ${hours} h at ${o.batchMs} ms) comes from a ` +
      `TRUSTED DEALER (this tool saw every batch key; devnets only); t = ${f}: ${f + 1} validators' shares open a batch`,
  )

  // Genesis (its time after the dealing, so batch 1 is not already late).
  const multiaddr = (i: number) => o.multiaddr(i, peerIds[i])
  const genesis: Genesis = parseGenesis({
    networkId: `devnet-${Date.now().toString(36)}`,
    chainId: String(chainId),
    settlement,
    genesisTime: Date.now(),
    validators: validators.map((address, i) => ({ address, peerId: peerIds[i], multiaddr: multiaddr(i) })),
    batchIntervalMs: o.batchMs,
    intakeCutoffMs: Math.max(50, Math.floor(o.batchMs / 5)),
    inclusionGraceMs: Math.max(Math.max(50, Math.floor(o.batchMs / 5)) + 100, Math.floor(o.batchMs / 2)),
    timeouts: { proposeMs: o.batchMs, prevoteMs: 500, precommitMs: 500, deltaMs: 250, capMs: 10_000 },
    bond: { token: 'TKA', minBond: E18.toString(), invalidOrderFee: (E18 / 10n).toString() },
    feeBps: 0,
    maxOrdersPerBatch: 10_000,
    maxFillsPerBatch: DEFAULT_MAX_FILLS_PER_BATCH,
    perTraderMaxOrdersPerBatch: 100,
    assets: [
      { symbol: 'TKA', kind: 'token', address: tka, decimals: 18 },
      { symbol: 'TKB', kind: 'token', address: tkb, decimals: 18 },
      { symbol: 'TKC', kind: 'token', address: tkc, decimals: 18 },
      { symbol: 'CPU', kind: 'resource', class: 'cpu.vcore-hour', decimals: 0 },
    ],
    sealing: { enabled: true },
  })
  writeJson(p.genesis, genesisToJson(genesis))

  return {
    genesis,
    chainId,
    settlement,
    tokens,
    validators,
    peerIds,
    accounts,
    epochFile,
    sharesFile,
    validatorKeyFile: (i) => p.validatorKey(i),
  }
}

export interface DevnetInitOptions {
  dir: string
  /** RPC URL of a running chain with anvil's default accounts (e.g. the compose file's anvil). */
  chain: string
  validators: number
  accounts: number
  batchMs: number
  /** Host of validator i as the others reach it: `{i}` is replaced by the index (compose: `validator-{i}`). */
  hostTemplate: string
  /** The P2P port each validator listens on: one for all (separate hosts) or one per validator. */
  p2pPorts: number[]
  progress?: (line: string) => void
}

/** What `devnet init` wrote, for whoever starts the validators (`<dir>/init.json`). */
export interface DevnetInitFile {
  networkId: string
  chainId: number
  rpcUrl: string
  settlement: string
  tokens: DevnetFile['tokens']
  genesis: string
  epoch: string
  validators: {
    index: number
    address: string
    peerId: string
    multiaddr: string
    listen: string
    validatorKey: string
    networkKey: string
    sealingShares: string
  }[]
  accounts: DevnetFile['accounts']
}

/**
 * Prepares a devnet on a chain that is already running, without starting any process: what the
 * compose file's one-shot `init` service runs. Each validator then starts with `allot node start
 * --network-key keys/network-<i>.key --bootstrap-from-genesis …` (docs/devnet.md).
 */
export async function devnetInit(o: DevnetInitOptions): Promise<DevnetInitFile> {
  const say = o.progress ?? (() => {})
  const p = paths(o.dir)
  const initFile = join(o.dir, 'init.json')
  if (existsSync(initFile) || existsSync(p.genesis)) {
    throw new AllotError('DEVNET_EXISTS', `${o.dir} already holds a devnet's genesis: use an empty directory`)
  }
  if (o.p2pPorts.length !== 1 && o.p2pPorts.length !== o.validators) {
    throw new AllotError('CLI_BAD_FLAG', `--p2p-port takes one port or one per validator (${o.validators})`)
  }
  if (!(await rpcReady(o.chain))) throw new AllotError('DEVNET_CHAIN', `no chain answers at ${o.chain}`)
  const port = (i: number) => o.p2pPorts[o.p2pPorts.length === 1 ? 0 : i]
  const host = (i: number) => o.hostTemplate.replaceAll('{i}', String(i))
  const networkKey = (i: number) => join(p.keys, `network-${i}.key`)
  const net = await provisionNetwork({
    dir: o.dir,
    rpcUrl: o.chain,
    validators: o.validators,
    accounts: o.accounts,
    batchMs: o.batchMs,
    multiaddr: (i, peerId) => `${hostAddr(host(i))}/tcp/${port(i)}/p2p/${peerId}`,
    peerKeyFile: networkKey,
    say,
  })
  const file: DevnetInitFile = {
    networkId: net.genesis.networkId,
    chainId: net.chainId,
    rpcUrl: o.chain,
    settlement: net.settlement,
    tokens: net.tokens,
    genesis: p.genesis,
    epoch: net.epochFile,
    validators: net.validators.map((address, i) => ({
      index: i,
      address,
      peerId: net.peerIds[i],
      multiaddr: net.genesis.validators[i].multiaddr,
      listen: `/ip4/0.0.0.0/tcp/${port(i)}`,
      validatorKey: net.validatorKeyFile(i),
      networkKey: networkKey(i),
      sealingShares: net.sharesFile(i),
    })),
    accounts: net.accounts,
  }
  writeJson(initFile, file)
  say(`wrote ${p.genesis}, ${net.epochFile}, keys in ${p.keys} and ${initFile}`)
  return file
}

/** A multiaddr prefix for a host: an IPv4 literal or a DNS name (compose service names). */
function hostAddr(host: string): string {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host)) return `/ip4/${host}`
  if (host.includes(':')) return `/ip6/${host}`
  return `/dns4/${host}`
}

export interface NodeStatus {
  index: number
  up: boolean
  peers: number
  height: number
  finalized: number
  settled: number
  /**
   * Whether this validator's results agree with the quorum's: it has certified — recorded as finalized,
   * which a validator does only when its own result matches the certificate — a batch within
   * `RESULT_QUORUM_LAG` heights of the furthest node. A validator whose results differ keeps deciding
   * heights but stops certifying: it shows `false`. (Not "signed the latest certificate": a certificate
   * holds the first 2f+1 matching signatures, so an agreeing but slower validator is often left out.)
   */
  inResultQuorum: boolean
}

/** How many heights behind the furthest node a validator may have certified and still count as agreeing. */
export const RESULT_QUORUM_LAG = 3

/** Asks every validator of the devnet for its state (CLI.md `devnet status --json`). */
export async function devnetStatus(dir: string): Promise<{ nodes: NodeStatus[] }> {
  const d = readDevnet(dir)
  const nodes = await Promise.all(
    d.nodes.map(async (n): Promise<NodeStatus> => {
      const down = {
        index: n.index,
        up: false,
        peers: 0,
        height: 0,
        finalized: 0,
        settled: 0,
        inResultQuorum: false,
      }
      if (!isAlive(n.pid)) return down
      let client: AllotClient | undefined
      try {
        client = await AllotClient.connect(n.api, { timeoutMs: 3000 })
        const info = await client.info()
        return {
          index: n.index,
          up: true,
          peers: info.peers,
          height: Number(info.height),
          finalized: Number(info.finalized),
          settled: Number(info.settled),
          inResultQuorum: false,
        }
      } catch {
        return down
      } finally {
        await client?.close().catch(() => {})
      }
    }),
  )
  const best = Math.max(0, ...nodes.filter((s) => s.up).map((s) => s.finalized))
  for (const s of nodes) s.inResultQuorum = s.up && best > 0 && s.finalized + RESULT_QUORUM_LAG >= best
  return { nodes }
}

/** Stops every process the devnet started, by PID; `clean` removes its directory too. */
export async function devnetDown(dir: string, clean: boolean): Promise<{ stopped: number }> {
  const stopped = await stopAll(dir)
  if (clean) rmSync(dir, { recursive: true, force: true })
  return { stopped }
}

/** Fault drill: SIGKILL one validator. */
export function devnetKill(dir: string, index: number): { index: number; pid: number } {
  const d = readDevnet(dir)
  const n = d.nodes.find((x) => x.index === index)
  if (!n) throw new AllotError('CLI_BAD_FLAG', `no validator ${index} in ${dir}`)
  killProcess(n.pid)
  return { index, pid: n.pid }
}

/** Starts a validator again on its existing data, with the arguments `up` gave it. */
export async function devnetRestart(dir: string, index: number): Promise<{ index: number; pid: number }> {
  const d = readDevnet(dir)
  const n = d.nodes.find((x) => x.index === index)
  const l = readLaunch(dir).nodes.find((x) => x.index === index)
  if (!n || !l) throw new AllotError('CLI_BAD_FLAG', `no validator ${index} in ${dir}`)
  if (isAlive(n.pid)) await stopPid(n.pid)
  const cmd = nodeCommand(l.args)
  const proc = spawnBackground(cmd.command, cmd.args, { logFile: l.logFile })
  n.pid = proc.pid
  writeJson(paths(dir).devnet, d)
  return { index, pid: proc.pid }
}
