import { describe, expect, it } from 'vitest'
import { type Service, type ServiceEntry, ServiceList } from '../../../src/services.js'

/** Services that write what happens to them into one journal. */
function fakes(
  names: string[],
  journal: string[],
  fail: { start?: string; stop?: string } = {},
): ServiceEntry[] {
  return names.map((name) => ({
    name,
    create: (): Service => {
      journal.push(`create ${name}`)
      return {
        async start() {
          if (fail.start === name) throw new Error(`${name} cannot start`)
          journal.push(`start ${name}`)
        },
        async stop() {
          journal.push(`stop ${name}`)
          if (fail.stop === name) throw new Error(`${name} cannot stop`)
        },
      }
    },
  }))
}

describe('ServiceList', () => {
  const names = ['metrics', 'chain-view', 'node', 'sealing', 'dkg', 'batch', 'consensus']

  it('constructs each service once those before it started, and stops them in reverse', async () => {
    const journal: string[] = []
    const list = new ServiceList()
    await list.start(fakes(names, journal))
    expect(list.names).toEqual(names)
    expect(journal).toEqual(names.flatMap((n) => [`create ${n}`, `start ${n}`]))
    journal.length = 0
    await list.stop()
    expect(journal).toEqual([...names].reverse().map((n) => `stop ${n}`))
    expect(list.names).toEqual([])
  })

  it('a failed start stops those already started, in reverse, and throws', async () => {
    const journal: string[] = []
    const list = new ServiceList()
    await expect(list.start(fakes(names, journal, { start: 'dkg' }))).rejects.toThrow('dkg cannot start')
    expect(journal.filter((j) => j.startsWith('stop'))).toEqual([
      'stop sealing',
      'stop node',
      'stop chain-view',
      'stop metrics',
    ])
    expect(journal).not.toContain('create batch')
    expect(list.names).toEqual([])
  })

  it('a service that fails to stop does not keep the others running', async () => {
    const journal: string[] = []
    const list = new ServiceList()
    await list.start(fakes(names, journal, { stop: 'batch' }))
    journal.length = 0
    await list.stop()
    expect(journal).toEqual([...names].reverse().map((n) => `stop ${n}`))
  })

  it('stop twice at once stops each service once', async () => {
    const journal: string[] = []
    const list = new ServiceList()
    await list.start(fakes(names, journal))
    journal.length = 0
    await Promise.all([list.stop(), list.stop()])
    expect(journal).toEqual([...names].reverse().map((n) => `stop ${n}`))
  })
})
