import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, relative } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parse, stringify } from 'yaml'
import { validateConfig } from '../../src/config/index.js'
import { startUpstream } from '../helpers/upstream.js'
import { copyStep, execForm, pairs, parseDockerfile, stages, type Instruction, type Stage } from './dockerfile.js'

// The image cannot be built here (no Docker daemon, no registry), so this test
// replays the Dockerfile's recipe in a temp folder: every COPY, the npm steps
// of every RUN, ENV, USER, ENTRYPOINT and CMD, read from the Dockerfile
// itself. Then it starts the result the way the image would (unprivileged,
// everything but the volume read-only) with the image's config and checks
// /healthz, a proxied request, a flip that writes the state, and a clean
// SIGTERM. A step the replay does not know fails the test: teach it here.

// npm ci + the TypeScript build take ~60 s on a quiet 2-core box, minutes on a busy one
t.setTimeout(300_000)

const repo = fileURLToPath(new URL('../../', import.meta.url))
const dockerfile = parseDockerfile(readFileSync(join(repo, 'Dockerfile'), 'utf8'))
const all = stages(dockerfile)
const final = all.at(-1)!
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string; license: string }
const ignored = readFileSync(join(repo, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim().replace(/\/$/, ''))
  .filter((l) => l !== '' && !l.startsWith('#'))

const isRoot = process.getuid?.() === 0
const UNPRIVILEGED = 65534
const TOKEN = 'replay-admin-token-0123456789'

const find = (stage: Stage, op: string): Instruction[] => stage.steps.filter((s) => s.op === op)
const last = (stage: Stage, op: string): Instruction | undefined => find(stage, op).at(-1)

t.test('the image recipe', async (t) => {
  t.match(final.image, /^node:24-bookworm-slim$/, 'runs on Node 24 (Debian bookworm slim)')
  for (const s of all) t.match(s.image, /^node:24-/, `stage ${s.name ?? '(final)'} builds on Node 24`)

  const labels = Object.assign({}, ...find(final, 'LABEL').map(pairs)) as Record<string, string>
  t.equal(labels['org.opencontainers.image.title'], 'switchyard')
  t.equal(labels['org.opencontainers.image.version'], pkg.version, 'OCI version label = package.json version')
  t.equal(labels['org.opencontainers.image.licenses'], pkg.license, 'OCI licenses label = package.json license')
  t.ok(labels['org.opencontainers.image.description'], 'OCI description label')

  const user = last(final, 'USER')
  t.ok(user, 'sets USER')
  t.match(user?.args ?? '', /^[1-9]\d*:[1-9]\d*$/, 'a numeric, non-root uid:gid (runAsNonRoot can verify it)')

  const entrypoint = execForm(last(final, 'ENTRYPOINT')!)
  t.same(entrypoint.slice(0, 2), ['/usr/bin/tini', '--'], 'tini is PID 1')
  t.ok(
    find(final, 'RUN').some((r) => /apt-get .*install .*\btini\b/.test(r.args)),
    'and is installed from Debian',
  )
  execForm(last(final, 'CMD')!)

  const volumes = find(final, 'VOLUME').flatMap(execForm)
  t.same(volumes, ['/var/lib/switchyard'], 'one volume: the state')
  const exposed = find(final, 'EXPOSE')
    .flatMap((e) => e.args.split(' '))
    .map(Number)
  const config = parse(readFileSync(join(repo, 'config/container.yaml'), 'utf8')) as Record<string, any>
  t.ok(exposed.includes(config.listen.port), `EXPOSE has the listen port ${config.listen.port}`)
  t.ok(exposed.includes(config.admin.port), `EXPOSE has the admin port ${config.admin.port}`)
  t.equal(dirname(config.store.path), '/var/lib/switchyard', 'the container config keeps its state in the volume')
  t.doesNotThrow(
    () => validateConfig({ ...config, admin: { ...config.admin, token: TOKEN } }, '/etc/switchyard'),
    'container.yaml is valid (with a token)',
  )
})

t.test('replaying the recipe gives a router that runs unprivileged on a read-only root', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'switchyard-image-'))
  chmodSync(tmp, 0o755)
  const cleanups: (() => unknown)[] = []
  t.teardown(async () => {
    for (const c of cleanups.reverse()) await c()
    if (!isRoot) spawnSync('chmod', ['-R', 'u+w', tmp])
    rmSync(tmp, { recursive: true, force: true })
  })

  // Each stage gets its own root folder; the final one plays the image's "/".
  const rootOf = new Map<string, string>()
  all.forEach((s, i) => rootOf.set(s.name ?? `stage${i}`, join(tmp, s.name ?? `stage${i}`)))
  const stageRoot = (s: Stage) => rootOf.get(s.name ?? `stage${all.indexOf(s)}`)!
  const inRoot = (root: string, path: string, workdir: string) => join(root, path.startsWith('/') ? path : join(workdir, path))
  const npmEnv = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, npm_config_update_notifier: 'false' }
  const volumes: string[] = []
  const env: Record<string, string> = {}
  const copied: string[] = []

  for (const stage of all) {
    const root = stageRoot(stage)
    let workdir = '/'
    mkdirSync(root, { recursive: true })
    for (const step of stage.steps) {
      const where = `Dockerfile line ${step.line}`
      switch (step.op) {
        case 'WORKDIR':
          workdir = step.args
          mkdirSync(inRoot(root, workdir, '/'), { recursive: true })
          break
        case 'COPY': {
          const c = copyStep(step)
          const fromStage = c.from === null ? undefined : all.find((s) => s.name === c.from)
          if (c.from !== null && fromStage === undefined) {
            t.fail(`${where}: COPY --from=${c.from}: no such stage`)
            return
          }
          const from = fromStage === undefined ? repo : stageRoot(fromStage)
          const dest = inRoot(root, c.dest, workdir)
          const intoDir = c.dest.endsWith('/') || c.sources.length > 1
          for (const src of c.sources) {
            const abs = join(from, src)
            t.ok(existsSync(abs), `${where}: ${c.from ?? 'context'}:${src} exists`)
            if (c.from === null) {
              t.notOk(
                ignored.some((i) => src === i || src.startsWith(`${i}/`)),
                `${where}: ${src} is not in .dockerignore`,
              )
              copied.push(src)
            }
            const target = intoDir && !statSync(abs).isDirectory() ? join(dest, basename(src)) : dest
            mkdirSync(dirname(target), { recursive: true })
            cpSync(abs, target, {
              recursive: true,
              filter: (p) => c.from !== null || !ignored.some((i) => relative(repo, p) === i || relative(repo, p).startsWith(`${i}/`)),
            })
          }
          break
        }
        case 'RUN': {
          const cwd = inRoot(root, workdir, '/')
          if (/^npm ci\b/.test(step.args) || /^npm prune\b/.test(step.args)) {
            // the recipe's own npm command; --prefer-offline reuses the npm cache
            const args = step.args.split(' ').slice(1)
            if (args[0] === 'ci') args.push('--prefer-offline')
            const r = spawnSync('npm', args, { cwd, env: npmEnv, encoding: 'utf8', timeout: 240_000 })
            t.equal(r.status, 0, `${where}: ${step.args}`, { stderr: r.stderr?.slice(-2000) })
            if (r.status !== 0) return
          } else if (/^apt-get /.test(step.args)) {
            // Debian packages come from the base image's apt; only tini is expected
            const pkgs = [...step.args.matchAll(/install((?: -\S+)*)((?: [a-z0-9][\w.+-]*)+)/g)].flatMap((m) => m[2].trim().split(' '))
            t.same(
              pkgs.filter((p) => !p.startsWith('-')),
              ['tini'],
              `${where}: installs only tini`,
            )
          } else {
            const m = /^mkdir -p (\/\S+) && chown (\d+):(\d+) \1$/.exec(step.args)
            if (m === null) {
              t.fail(`${where}: the replay does not know RUN ${step.args}; teach test/shipping/image.test.ts`)
              return
            }
            const dir = inRoot(root, m[1], '/')
            mkdirSync(dir, { recursive: true })
            volumes.push(dir)
            if (isRoot) chownSync(dir, UNPRIVILEGED, UNPRIVILEGED)
          }
          break
        }
        case 'ENV':
          if (stage === final) Object.assign(env, pairs(step))
          break
        case 'LABEL':
        case 'USER':
        case 'EXPOSE':
        case 'VOLUME':
        case 'HEALTHCHECK':
        case 'ENTRYPOINT':
        case 'CMD':
          break // checked above, or used below
        default:
          t.fail(`${where}: the replay does not know ${step.op}; teach test/shipping/image.test.ts`)
          return
      }
    }
  }
  t.ok(
    copied.includes('src') && copied.includes('bin') && copied.includes('config/container.yaml'),
    'the recipe copies src, bin and the container config',
  )

  // The image's config, with what a test must change: loopback hosts (tests
  // listen on 127.0.0.1 only), the upstreams, and the state path inside our "/".
  const root = stageRoot(final)
  const blue = await startUpstream({ color: 'blue' })
  const green = await startUpstream({ color: 'green' })
  cleanups.push(
    () => blue.close(),
    () => green.close(),
  )
  const cmd = execForm(last(final, 'CMD')!)
  const configAt = cmd[cmd.indexOf('--config') + 1]
  const configPath = inRoot(root, configAt, '/')
  const config = parse(readFileSync(configPath, 'utf8')) as Record<string, any>
  config.listen.host = '127.0.0.1'
  config.admin.host = '127.0.0.1'
  config.upstreams = { blue: { targets: [blue.url] }, green: { targets: [green.url] } }
  config.store.path = inRoot(root, config.store.path, '/')
  writeFileSync(configPath, stringify(config))

  // A node binary the unprivileged user can reach (ours may live under /root).
  const nodeDir = join(tmp, 'node-bin')
  mkdirSync(nodeDir)
  try {
    linkSync(process.execPath, join(nodeDir, 'node'))
  } catch {
    copyFileSync(process.execPath, join(nodeDir, 'node'))
    chmodSync(join(nodeDir, 'node'), 0o755)
  }

  // Read-only everywhere but the volume: root's files are not writable by the
  // unprivileged user; without root, take the write bits away.
  if (!isRoot) {
    spawnSync('chmod', ['-R', 'a-w', root])
    for (const v of volumes) chmodSync(v, 0o755)
  }
  const before = snapshot(root, volumes)

  const entrypoint = execForm(last(final, 'ENTRYPOINT')!)
  const haveTini = existsSync('/usr/bin/tini')
  if (!haveTini) t.comment('tini is not installed here (apt-get install tini): starting node without it')
  const argv = [...(haveTini ? entrypoint : entrypoint.slice(2)), ...cmd].map((a) =>
    a === 'node' ? join(nodeDir, 'node') : a.startsWith('/') && existsSync(inRoot(root, a, '/')) ? inRoot(root, a, '/') : a,
  )
  const user = isRoot ? ['setpriv', `--reuid=${UNPRIVILEGED}`, `--regid=${UNPRIVILEGED}`, '--clear-groups'] : []
  // tap adds its process tracker to every child's NODE_OPTIONS; the image has none
  const [exe, ...args] = ['env', '-u', 'NODE_OPTIONS', ...user, ...argv]
  const child = spawn(exe, args, {
    cwd: inRoot(root, final.steps.filter((s) => s.op === 'WORKDIR').at(-1)?.args ?? '/', '/'),
    env: {
      PATH: `${nodeDir}:/usr/bin:/bin`,
      HOME: join(root, 'nonexistent'),
      TMPDIR: join(root, 'tmp-is-read-only'),
      ...env,
      // tini is not PID 1 here: as a subreaper it still reaps, and does not warn
      TINI_SUBREAPER: '1',
      SWITCHYARD_LISTEN_PORT: '0',
      SWITCHYARD_ADMIN_PORT: '0',
      SWITCHYARD_ADMIN_TOKEN: TOKEN,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const logs: string[] = []
  const started = await new Promise<Record<string, string>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the replayed image did not start in 30 s; stderr: ${stderr}`)), 30_000)
    createInterface({ input: child.stdout }).on('line', (line) => {
      logs.push(line)
      if (line.includes('"switchyard started"')) {
        clearTimeout(timer)
        resolve(JSON.parse(line) as Record<string, string>)
      }
    })
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`the replayed image exited with ${code}; stderr: ${stderr}; stdout: ${logs.join('\n')}`))
    })
  })
  t.equal(started.store, 'file')

  if (isRoot) {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8')
    t.match(status, new RegExp(`^Uid:\\s+${UNPRIVILEGED}\\s`, 'm'), `runs as uid ${UNPRIVILEGED}`)
  }
  const healthz = await fetch(`${started.admin}/healthz`)
  t.equal(healthz.status, 200, '/healthz answers without a token')
  t.same(await healthz.json(), { ok: true })
  const ready = await fetch(`${started.admin}/readyz`)
  t.equal(ready.status, 200, '/readyz: ready')
  await ready.body?.cancel()

  const first = await fetch(`${started.proxy}/hello`)
  t.equal(first.status, 200)
  t.equal(first.headers.get('x-served-by'), 'blue', 'a proxied request reaches the live color')
  await first.body?.cancel()

  const flip = await fetch(`${started.admin}/v1/flip`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'image replay' }),
  })
  t.equal(flip.status, 200, 'a flip (smoke check on /health first) is stored', { body: await flip.text() })
  const second = await fetch(`${started.proxy}/hello`)
  t.equal(second.headers.get('x-served-by'), 'green', 'and routes at once')
  await second.body?.cancel()
  t.ok(existsSync(config.store.path), 'the state is in the volume')

  child.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const code = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('timeout'), 15_000)))])
  clearTimeout(timer) // pending, it would hold this test's process for up to 15 s
  t.equal(code, 0, 'SIGTERM (through tini) ends it cleanly')
  t.equal(stderr, '', 'nothing on stderr')
  t.same(changed(before, snapshot(root, volumes)), [], 'nothing was written outside the volume')
})

/** Every path under `root` (outside `skip`) with its mtime. */
function snapshot(root: string, skip: string[]): Map<string, number> {
  const out = new Map<string, number>()
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name)
      if (skip.includes(p)) continue
      const st = lstatSync(p)
      out.set(relative(root, p), st.mtimeMs)
      if (st.isDirectory()) walk(p)
    }
  }
  walk(root)
  return out
}

function changed(a: Map<string, number>, b: Map<string, number>): string[] {
  const out: string[] = []
  for (const [p, m] of b) if (a.get(p) !== m) out.push(p)
  for (const p of a.keys()) if (!b.has(p)) out.push(`${p} (removed)`)
  return out
}
