import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join, relative } from 'node:path'

// What `npm publish` would ship, read from npm itself. `npm test` builds dist/
// first (pretest), so the listing is that of a fresh build.
const root = fileURLToPath(new URL('../../', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string
  bin: Record<string, string>
  license: string
  engines: { node: string }
}

interface PackedFile {
  path: string
  size: number
  mode: number
}
const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
  cwd: root,
  encoding: 'utf8',
  timeout: 60_000,
  stdio: ['ignore', 'pipe', 'pipe'],
})
const [packed] = JSON.parse(out) as [{ name: string; files: PackedFile[] }]
const paths = packed.files.map((f) => f.path)

/** Files under `dir` (relative to the repo root, forward slashes). */
function walk(dir: string): string[] {
  return readdirSync(join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)).replace(/\\/g, '/'))
}

t.test('publishes as switchyard-proxy with the switchyard command', async (t) => {
  t.equal(pkg.name, 'switchyard-proxy', 'the npm name "switchyard" belongs to another project')
  t.equal(packed.name, 'switchyard-proxy')
  t.same(pkg.bin, { switchyard: 'bin/switchyard.js' })
  const bin = packed.files.find((f) => f.path === 'bin/switchyard.js')
  t.ok(bin, 'the bin is packed')
  t.ok(bin !== undefined && (bin.mode & 0o111) !== 0, 'and executable')
  t.match(readFileSync(join(root, 'bin/switchyard.js'), 'utf8'), /^#!\/usr\/bin\/env node\n/)
})

t.test('the license file matches package.json', async (t) => {
  t.equal(pkg.license, 'MIT')
  t.ok(paths.includes('LICENSE'), 'LICENSE is packed')
  const text = readFileSync(join(root, 'LICENSE'), 'utf8')
  t.match(text, /^MIT License\n/)
  t.match(text, /Copyright \(c\) \d{4} the switchyard authors/)
})

t.test('ships the compiled code, the bin and the example configs', async (t) => {
  for (const p of ['package.json', 'README.md', 'LICENSE', 'bin/switchyard.js', 'config/switchyard.yaml', 'config/container.yaml']) {
    t.ok(paths.includes(p), p)
  }
  // every source file is shipped compiled, and nothing compiled is stale (its source gone)
  const sources = walk('src').filter((p) => p.endsWith('.ts'))
  t.ok(sources.length > 10, 'src/ has the sources')
  for (const s of sources) t.ok(paths.includes(s.replace(/^src\//, 'dist/').replace(/\.ts$/, '.js')), `${s} is shipped as .js`)
  const compiled = paths.filter((p) => p.startsWith('dist/') && p.endsWith('.js'))
  // dist/ui/ is the dashboard, compiled from ui/src/; the rest from src/.
  const sourceOf = (c: string) =>
    (c.startsWith('dist/ui/') ? c.replace(/^dist\/ui\//, 'ui/src/') : c.replace(/^dist\//, 'src/')).replace(/\.js$/, '.ts')
  for (const c of compiled) t.ok(existsSync(join(root, sourceOf(c))), `${c} has a source (no stale build output)`)
  // the dashboard ships whole: its modules and static files
  for (const s of walk('ui/src').filter((p) => p.endsWith('.ts') && !p.endsWith('types.ts')))
    t.ok(paths.includes(s.replace(/^ui\/src\//, 'dist/ui/').replace(/\.ts$/, '.js')), `${s} is shipped as .js`)
  for (const f of ['dist/ui/index.html', 'dist/ui/style.css', 'dist/ui/icon.svg']) t.ok(paths.includes(f), `${f} is shipped`)
  // bin/switchyard.js loads this file
  t.ok(paths.includes('dist/cli/index.js'), 'the CLI entry the bin imports')
})

t.test('ships no tests, benchmarks, sources or tooling', async (t) => {
  const allowed =
    /^(package\.json|README\.md|LICENSE|bin\/[^/]+\.js|config\/[^/]+\.ya?ml|dist\/.+\.js(\.map)?|dist\/ui\/(index\.html|style\.css|icon\.svg))$/
  for (const p of paths) t.match(p, allowed, `${p} is meant to be shipped`)
  for (const p of paths) {
    t.notMatch(p, /^(test|bench|src|docs|deploy|\.ci)\/|\.test\.|tsconfig|Dockerfile/, `${p} is not a test, benchmark or tooling file`)
  }
  // source maps point at src/ only, never at a test
  for (const m of paths.filter((p) => p.endsWith('.map'))) {
    const map = JSON.parse(readFileSync(join(root, m), 'utf8')) as { sources: string[] }
    for (const s of map.sources) t.notMatch(s, /(^|\/)test\//, `${m} maps ${s}`)
  }
})

t.test('engines is honest: admits the Node the image and CI run, and no Node a runtime dependency refuses', async (t) => {
  const pinned = readFileSync(join(root, '.nvmrc'), 'utf8').trim()
  const major = Number(pinned.split('.')[0])
  t.equal(major, 24, '.nvmrc pins Node 24 LTS')
  const min = /^>=(\d+)(?:\.\d+){0,2}$/.exec(pkg.engines.node)
  t.ok(min, `engines.node (${pkg.engines.node}) is a plain lower bound`)
  const floor = min === null ? Infinity : Number(min[1])
  t.ok(floor <= major, 'it admits Node 24')
  t.match(readFileSync(join(root, 'Dockerfile'), 'utf8'), new RegExp(`^FROM node:${major}-`, 'm'), 'the image runs the same major')
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; engines?: { node?: string } }>
  }
  for (const [name, p] of Object.entries(lock.packages)) {
    const m = /^>=\s*(\d+)/.exec(p.engines?.node ?? '')
    if (name === '' || p.dev === true || m === null) continue
    t.ok(Number(m[1]) <= floor, `${name.replace(/^node_modules\//, '')} needs Node ${p.engines?.node}; engines admits ${pkg.engines.node}`)
  }
})
