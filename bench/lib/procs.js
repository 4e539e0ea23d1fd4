/**
 * Child processes of the bench: start (optionally pinned to a core), wait until
 * ready, and kill every one of them when the bench ends, whichever way it ends
 * (normal exit, error, SIGINT, SIGTERM).
 */
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import net from 'node:net'

/** true when `taskset` (util-linux) can pin processes, and there are ≥ 2 cores. */
export const canPin = (() => {
  const r = spawnSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' })
  return r.status === 0
})()

/** Whether an executable is on PATH. */
export function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

const children = new Set()

/**
 * Starts `cmd args` pinned to `core` (a taskset CPU list such as '1') when
 * pinning is on. taskset execs the command, so the pid is the command's own.
 * stdout/stderr are kept (last 8 KiB) for error messages.
 */
export function launch(name, cmd, args, { core = null, pin = canPin, env, cwd, ipc = false } = {}) {
  let file = cmd
  let argv = args
  if (pin && core !== null) {
    file = 'taskset'
    argv = ['-c', String(core), cmd, ...args]
  }
  const child = spawn(file, argv, {
    stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? ['ipc'] : [])],
    env: { ...process.env, ...env },
    cwd,
  })
  const proc = { name, child, pid: child.pid, out: '', err: '', exited: null }
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (d) => {
    proc.out = (proc.out + d).slice(-8192)
  })
  child.stderr.on('data', (d) => {
    proc.err = (proc.err + d).slice(-8192)
  })
  proc.closedPromise = new Promise((resolve) => child.on('close', resolve))
  proc.exitedPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      proc.exited = { code, signal }
      children.delete(proc)
      resolve(proc.exited)
    })
    child.on('error', (err) => {
      proc.exited = { code: -1, signal: null, error: err.message }
      children.delete(proc)
      resolve(proc.exited)
    })
  })
  children.add(proc)
  return proc
}

/** Waits until the child prints a line matching `re`; returns the match. */
export function waitForLine(proc, re, timeoutMs = 15_000) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const m = re.exec(proc.out)
      if (m !== null) {
        done()
        resolve(m)
      }
    }
    const onExit = () => {
      done()
      reject(new Error(`${proc.name} exited (${JSON.stringify(proc.exited)}): ${tail(proc)}`))
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`${proc.name} not ready after ${timeoutMs} ms: ${tail(proc)}`))
    }, timeoutMs)
    const done = () => {
      clearTimeout(timer)
      proc.child.stdout.off('data', check)
      proc.child.off('exit', onExit)
    }
    proc.child.stdout.on('data', check)
    proc.child.on('exit', onExit)
    if (proc.exited !== null) onExit()
    else check()
  })
}

/** Polls `url` until it answers with `status` (any status when null). */
export async function waitForHttp(url, { status = 200, timeoutMs = 15_000, proc = null, headers } = {}) {
  const end = Date.now() + timeoutMs
  let last = ''
  while (Date.now() < end) {
    if (proc !== null && proc.exited !== null) {
      throw new Error(`${proc.name} exited (${JSON.stringify(proc.exited)}): ${tail(proc)}`)
    }
    try {
      const res = await httpGet(url, headers, 1000)
      if (status === null || res.status === status) return res.status
      last = `status ${res.status}`
    } catch (err) {
      last = err.code ?? err.message
    }
    await sleep(100)
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (${last})${proc !== null ? ': ' + tail(proc) : ''}`)
}

/**
 * One GET with node:http: `{ status, headers, body }`. Unlike fetch, it sends
 * the `host` header it is given (a many-apps router routes by it).
 */
export function httpGet(url, headers = {}, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)))
    req.on('error', reject)
  })
}

/** The last lines a child wrote, for error messages. */
export function tail(proc, n = 6) {
  const lines = (proc.err + '\n' + proc.out)
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '')
  // The first line naming an error says more than the end of a stack trace.
  const first = lines.find((l) => /error|cannot|failed/i.test(l) && !/^\s+at /.test(l))
  const last = lines.slice(-n).filter((l) => l !== first && !/^\s+at /.test(l))
  return [first, ...last].filter(Boolean).join(' | ').slice(-800)
}

/** Stops one child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(proc, graceMs = 3000) {
  if (proc.exited !== null) return proc.exited
  try {
    proc.child.kill('SIGTERM')
  } catch {}
  const t = setTimeout(() => {
    try {
      proc.child.kill('SIGKILL')
    } catch {}
  }, graceMs)
  const r = await proc.exitedPromise
  clearTimeout(t)
  return r
}

/** Stops every child still running. */
export async function stopAll() {
  await Promise.all([...children].map((p) => stop(p)))
}

/** Last resort on process exit: synchronous SIGKILL of whatever is left. */
function killAllNow() {
  for (const p of children) {
    try {
      p.child.kill('SIGKILL')
    } catch {}
  }
}

let installed = false
/** Kills every child when the bench exits, is interrupted or crashes. */
export function installCleanup() {
  if (installed) return
  installed = true
  process.on('exit', killAllNow)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping ${children.size} child process(es)\n`)
      stopAll().finally(() => process.exit(130))
    })
  }
}

/** A free TCP port on 127.0.0.1 (listen on 0, read, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** Peak and current resident set size of a process, in MiB (Linux /proc). */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const kb = (key) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)
      return m === null ? null : Number(m[1]) / 1024
    }
    return { hwmMiB: kb('VmHWM'), rssMiB: kb('VmRSS') }
  } catch {
    return { hwmMiB: null, rssMiB: null }
  }
}

const CLK_TCK = (() => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })
  const n = Number(r.stdout?.trim())
  return n > 0 ? n : 100
})()

/**
 * CPU seconds (user + system, all threads) a process has used so far, from
 * /proc/<pid>/stat; null when unavailable. CPU per request is far less
 * sensitive than req/s to other work competing for the cores.
 */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name, which may hold spaces: "pid (comm) state ..."
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) / CLK_TCK
  } catch {
    return null
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
