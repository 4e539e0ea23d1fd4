import { join } from 'node:path'
import { ROOT } from './contenders.js'
import { launch } from './procs.js'

/** The load generator process: autocannon over IPC. */
export function startLoadWorker(pin, core) {
  // fork() cannot prefix taskset, so pin through `taskset` with an IPC channel.
  const proc = launch('load', process.execPath, [join(ROOT, 'bench', 'load.js')], { core, pin, ipc: true })
  let next = 0
  const waiting = new Map()
  proc.child.on('message', (m) => {
    if (m.id === undefined) return
    const w = waiting.get(m.id)
    waiting.delete(m.id)
    if (m.error !== undefined) w.reject(new Error(m.error))
    else w.resolve(m.result)
  })
  proc.child.on('exit', () => {
    for (const w of waiting.values()) w.reject(new Error(`load generator exited: ${proc.err.slice(-300)}`))
    waiting.clear()
  })
  const ready = new Promise((resolve, reject) => {
    proc.child.once('message', resolve)
    proc.child.once('exit', () => reject(new Error(`load generator exited: ${proc.err.slice(-300)}`)))
  })
  return {
    proc,
    ready,
    run(opts) {
      const id = next++
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        proc.child.send({ id, opts })
      })
    },
  }
}
