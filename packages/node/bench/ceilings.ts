import { createECDH } from 'node:crypto'
import type { EcdhFn } from '@allot/protocol'

/**
 * CPU seconds (user + system) of this process for f(), once. CPU time rather than wall clock: this
 * 2-core machine is shared with other engineers' test runs, and time spent descheduled is not ours.
 */
export function measureOnce(f: () => unknown): number {
  const t0 = process.cpuUsage()
  f()
  const d = process.cpuUsage(t0)
  return (d.user + d.system) / 1e6
}

/** ops per CPU second of f over n calls after a short warm-up. */
export function measureRate(n: number, f: (i: number) => unknown): number {
  for (let i = 0; i < Math.min(200, n); i++) f(i)
  return (
    n /
    measureOnce(() => {
      for (let i = 0; i < n; i++) f(i)
    })
  )
}

export function printRate(label: string, perSecond: number, extra = ''): void {
  const us = 1e6 / perSecond
  console.log(
    `${label.padEnd(44)} ${Math.round(perSecond).toLocaleString('en').padStart(9)} /s  ${us.toFixed(1).padStart(8)} µs/op${extra ? `  ${extra}` : ''}`,
  )
}

/** node:crypto (OpenSSL) ECDH with a fixed private key, returning the compressed shared point like noble. */
export function nodeCryptoEcdh(priv: Uint8Array): EcdhFn {
  const ecdh = createECDH('secp256k1')
  ecdh.setPrivateKey(priv)
  // computeSecret returns x only; the y parity is not needed by our KDF (it uses x), but the EcdhFn
  // contract is a compressed point, so the prefix is a placeholder: this is a ceiling, not a backend.
  return (_priv, pub) => {
    const x = ecdh.computeSecret(pub)
    const out = new Uint8Array(33)
    out[0] = 0x02
    out.set(x, 1)
    return out
  }
}
