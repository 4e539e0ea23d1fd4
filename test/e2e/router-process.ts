import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/** Helpers to run the real `switchyard` binary as a child process. */

export const BIN = new URL('../../bin/switchyard.js', import.meta.url).pathname

export interface RouterProcess {
  child: ChildProcess
  proxyUrl: string
  previewUrl: string | null
  adminUrl: string
  /** every log line seen so far (parsed JSON where possible) */
  logs: Record<string, unknown>[]
  stderr: () => string
  /** resolves with the exit code */
  exited: Promise<number | null>
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/**
 * Variables the binary reads that must not point a test's router elsewhere
 * (e.g. at the shared Redis): pass to {@link startRouterProcess}.
 */
export const CLEAN_ENV: Readonly<NodeJS.ProcessEnv> = Object.freeze({
  SWITCHYARD_REDIS_URL: '',
  SWITCHYARD_ADMIN_TOKEN: '',
  SWITCHYARD_LISTEN_PORT: '',
  SWITCHYARD_ADMIN_PORT: '',
  SWITCHYARD_CONFIG: '',
})

/** Writes a JSON config into a fresh temp folder and returns its path. */
export function writeConfig(config: Record<string, unknown>, dir = mkdtempSync(join(tmpdir(), 'switchyard-e2e-'))): string {
  const path = join(dir, 'config.json')
  writeFileSync(path, JSON.stringify({ log: { level: 'info' }, ...config }, null, 2))
  return path
}

/** A config listening on free ports (port 0), with the file store in `dir`. */
export function baseConfig(dir: string, blue: string[], green: string[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    upstreams: { blue: { targets: blue }, green: { targets: green } },
    store: { type: 'file', path: join(dir, 'state.json') },
    shutdownGraceSeconds: 10,
    ...extra,
  }
}

/**
 * Starts `switchyard serve --config <path>` and waits for its "started" log
 * line, which names the URLs it listens on.
 */
export async function startRouterProcess(configPath: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 20_000): Promise<RouterProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configPath], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  const logs: Record<string, unknown>[] = []
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const started = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`router did not start in ${timeoutMs} ms; stderr: ${err}`)), timeoutMs)
    createInterface({ input: child.stdout }).on('line', (line) => {
      let rec: Record<string, unknown>
      try {
        rec = JSON.parse(line) as Record<string, unknown>
      } catch {
        rec = { text: line }
      }
      logs.push(rec)
      if (rec.msg === 'switchyard started') {
        clearTimeout(timer)
        resolve(rec)
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`router exited with ${code} before starting; stderr: ${err}`))
    })
  })
  let rec: Record<string, unknown>
  try {
    rec = await started
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  }
  return {
    child,
    proxyUrl: rec.proxy as string,
    previewUrl: (rec.preview as string | null) ?? null,
    adminUrl: rec.admin as string,
    logs,
    stderr: () => err,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** Calls the admin API and returns status + parsed JSON. Writes carry the JSON Content-Type, body or not. */
export async function admin(url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url + path, {
    method,
    headers: body === undefined && (method === 'GET' || method === 'HEAD') ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  const text = await res.text()
  let json: any = null
  try {
    json = JSON.parse(text)
  } catch {
    json = text
  }
  return { status: res.status, headers: res.headers, json }
}
