import { createHash } from 'node:crypto'
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { AllotError } from '@allot/protocol'
import type { Abi, Hex } from 'viem'

/** Where the contracts live and where their compiled artifacts go (gitignored, generated). */
export const CONTRACTS_DIR = join(import.meta.dirname, '..', '..', 'contracts')
export const ARTIFACTS_DIR = join(import.meta.dirname, '..', '..', 'artifacts')

export const SOLC_VERSION = '0.8.30'
/** Transient storage (EIP-1153) and MCOPY need cancun; anvil's default hardfork is newer. */
export const EVM_VERSION = 'cancun'

export interface ContractArtifact {
  contractName: string
  sourceFile: string
  abi: Abi
  bytecode: Hex
  deployedBytecode: Hex
  /** sha256 of every source file and the compiler settings: a stale artifact is recompiled. */
  sourceHash: string
  solcVersion: string
}

export type ContractName = 'AllotSettlement' | 'TestToken' | 'NoReturnToken'

function compilerSettings() {
  return {
    optimizer: { enabled: true, runs: 10_000 },
    viaIR: true,
    evmVersion: EVM_VERSION,
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
  }
}

function readSources(): Record<string, { content: string }> {
  const sources: Record<string, { content: string }> = {}
  for (const f of readdirSync(CONTRACTS_DIR)
    .filter((f) => f.endsWith('.sol'))
    .sort()) {
    sources[f] = { content: readFileSync(join(CONTRACTS_DIR, f), 'utf8') }
  }
  return sources
}

function hashSources(sources: Record<string, { content: string }>): string {
  const h = createHash('sha256')
  h.update(JSON.stringify(compilerSettings()))
  for (const [name, { content }] of Object.entries(sources))
    h.update(name).update('\0').update(content).update('\0')
  return h.digest('hex')
}

interface SolcOutput {
  errors?: { severity: 'error' | 'warning' | 'info'; formattedMessage: string }[]
  contracts?: Record<
    string,
    Record<string, { abi: Abi; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>
  >
}

/** Compiles every contract under contracts/ with the npm `solc` and writes artifacts/<Name>.json. */
export function compileContracts(log: (line: string) => void = () => {}): Record<string, ContractArtifact> {
  const require = createRequire(import.meta.url)
  let solc: { version(): string; compile(input: string): string }
  try {
    solc = require('solc')
  } catch {
    // A development dependency: `pnpm build` compiles the artifacts once; an install without solc uses them.
    throw new AllotError(
      'SETTLE_COMPILE',
      `solc ${SOLC_VERSION} is not installed (a development dependency) and the contract artifacts are missing or stale: run pnpm build in the workspace`,
    )
  }
  if (!solc.version().startsWith(SOLC_VERSION)) {
    throw new AllotError('SETTLE_COMPILE', `solc ${SOLC_VERSION} expected, found ${solc.version()}`)
  }
  const sources = readSources()
  const sourceHash = hashSources(sources)
  const input = { language: 'Solidity', sources, settings: compilerSettings() }
  const started = Date.now()
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length > 0) {
    throw new AllotError('SETTLE_COMPILE', errors.map((e) => e.formattedMessage).join('\n'))
  }
  for (const w of out.errors ?? []) if (w.severity === 'warning') log(w.formattedMessage)
  mkdirSync(ARTIFACTS_DIR, { recursive: true })
  const result: Record<string, ContractArtifact> = {}
  for (const [sourceFile, contracts] of Object.entries(out.contracts ?? {})) {
    for (const [contractName, c] of Object.entries(contracts)) {
      const artifact: ContractArtifact = {
        contractName,
        sourceFile,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
        sourceHash,
        solcVersion: solc.version(),
      }
      // Write then rename: a concurrent reader (another test process) never sees half a file.
      const file = join(ARTIFACTS_DIR, `${contractName}.json`)
      const tmp = `${file}.${process.pid}.tmp`
      writeFileSync(tmp, `${JSON.stringify(artifact, null, 2)}\n`)
      renameSync(tmp, file)
      result[contractName] = artifact
    }
  }
  log(`compiled ${Object.keys(result).length} contracts in ${Date.now() - started} ms`)
  return result
}

const loaded = new Map<string, ContractArtifact>()

/**
 * The artifact of a contract, compiling on demand when it is missing or stale (so `pnpm allot devnet up`
 * works right after `pnpm install`, with no build step).
 */
export function loadArtifact(name: ContractName): ContractArtifact {
  const cached = loaded.get(name)
  if (cached) return cached
  const sourceHash = hashSources(readSources())
  let artifact = readFresh(name, sourceHash)
  if (!artifact) {
    // One compiler at a time across processes (parallel test files, devnet nodes): the others wait for it.
    mkdirSync(ARTIFACTS_DIR, { recursive: true })
    const lock = join(ARTIFACTS_DIR, '.compiling.lock')
    const deadline = Date.now() + COMPILE_WAIT_MS
    while (!artifact) {
      if (tryLock(lock)) {
        try {
          artifact = readFresh(name, sourceHash) ?? compileContracts()[name]
          if (!artifact) throw new AllotError('SETTLE_COMPILE', `no contract ${name} in contracts/`)
        } finally {
          unlinkSync(lock)
        }
        break
      }
      if (Date.now() > deadline) throw new AllotError('SETTLE_COMPILE', `waited too long for ${lock}`)
      sleepSync(200)
      artifact = readFresh(name, sourceHash)
    }
  }
  loaded.set(name, artifact)
  return artifact
}

const COMPILE_WAIT_MS = 180_000

function readFresh(name: ContractName, sourceHash: string): ContractArtifact | undefined {
  const file = join(ARTIFACTS_DIR, `${name}.json`)
  if (!existsSync(file)) return undefined
  const a = JSON.parse(readFileSync(file, 'utf8')) as ContractArtifact
  return a.sourceHash === sourceHash ? a : undefined
}

/** Creates the lock file exclusively; a lock older than the wait limit is a crashed compiler's, taken over. */
function tryLock(lock: string): boolean {
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' })
    return true
  } catch {
    try {
      if (Date.now() - statSync(lock).mtimeMs > COMPILE_WAIT_MS) unlinkSync(lock)
    } catch {
      // gone meanwhile: retry on the next turn
    }
    return false
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms)
}
