import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../helpers/net.js'
import { Redis } from 'ioredis'
import type { Test } from 'tap'

/** Whether `redis-server` can be started here. */
export const HAS_REDIS = (() => {
  const r = spawnSync('redis-server', ['--version'], { stdio: 'ignore' })
  return r.error === undefined && r.status === 0
})()

/**
 * Call first in each redis test file: returns false (and ends the test as
 * skipped) when redis-server is missing, unless SWITCHYARD_REQUIRE_REDIS=1,
 * in which case a missing redis-server fails the run.
 */
export function requireRedis(t: Test): boolean {
  if (HAS_REDIS) return true
  if (process.env.SWITCHYARD_REQUIRE_REDIS === '1') {
    t.fail('redis-server is not on PATH, and SWITCHYARD_REQUIRE_REDIS=1 requires these tests to run')
    return false
  }
  t.plan(0, 'redis-server not installed (set SWITCHYARD_REQUIRE_REDIS=1 to fail instead of skipping)')
  return false
}

/** A private redis-server: no persistence, on its own port, killed on teardown. */
export interface PrivateRedis {
  port: number
  url: string
  /** SIGKILL the server and wait for it to exit (an outage) */
  kill(): Promise<void>
  /** start it again on the same port, empty (no persistence) */
  start(): Promise<void>
  /** SIGSTOP / SIGCONT: a server that keeps its sockets open but never answers */
  pause(): void
  resume(): void
}

/**
 * Starts `redis-server --port <free> --save "" --appendonly no` and waits
 * until it accepts connections. Never touches the shared Redis on 6379.
 */
export async function startRedis(t: Test): Promise<PrivateRedis> {
  const port = await freePort()
  let child: ChildProcess | null = null

  async function start(): Promise<void> {
    const proc = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--loglevel', 'notice'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    child = proc
    let out = ''
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer): void => {
        out += d.toString()
        if (out.includes('Ready to accept connections')) {
          proc.stdout?.off('data', onData)
          proc.off('exit', onExit)
          resolve()
        }
      }
      const onExit = (code: number | null): void => reject(new Error(`redis-server on ${port} exited (${code}): ${out}`))
      proc.stdout?.on('data', onData)
      proc.once('exit', onExit)
    })
    // Keep draining so a chatty server never blocks on a full pipe.
    proc.stdout?.resume()
    proc.stderr?.resume()
  }

  async function kill(): Promise<void> {
    const proc = child
    child = null
    if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = once(proc, 'exit')
    proc.kill('SIGKILL')
    await exited
  }

  await start()
  t.teardown(kill)
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    start,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
  }
}

/**
 * Starts `redis-server --sentinel` on a free port, watching the master
 * `name` at 127.0.0.1:`masterPort` (quorum 1), and waits until it monitors
 * it. Its config file (Sentinel rewrites it) lives in a temp folder; both
 * are removed on teardown.
 */
export async function startSentinel(t: Test, masterPort: number, name = 'mymaster'): Promise<{ port: number }> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-sentinel-'))
  const conf = join(dir, 'sentinel.conf')
  writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor ${name} 127.0.0.1 ${masterPort} 1`, ''].join('\n'))
  const proc = spawn('redis-server', [conf, '--sentinel'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = once(proc, 'exit')
      proc.kill('SIGKILL')
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sentinel on ${port} did not monitor ${name} within 10 s: ${out}`)), 10_000)
    const onData = (d: Buffer): void => {
      out += d.toString()
      if (out.includes('+monitor master')) {
        clearTimeout(timer)
        proc.stdout?.off('data', onData)
        resolve()
      }
    }
    proc.stdout?.on('data', onData)
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`sentinel on ${port} exited (${code}): ${out}`))
    })
  })
  proc.stdout?.resume()
  proc.stderr?.resume()
  return { port }
}

export { eventually } from '../helpers/wait.js'
export { freePort }

/** A plain client to look at or tamper with Redis directly; closed on teardown. */
export function rawClient(t: Test, url: string): Redis {
  const c = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 1 })
  c.on('error', () => undefined)
  t.teardown(() => c.disconnect())
  return c
}

/** A unique key prefix per test, so stores never see each other's keys. */
let prefixSeq = 0
export function testPrefix(): string {
  return `sy-test-${process.pid}-${++prefixSeq}`
}

export { stateV, entryV } from '../helpers/state.js'
