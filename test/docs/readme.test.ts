import t from 'tap'
import { parse } from 'yaml'
import { ConfigSchema } from '../../src/config/index.js'
import { ERRORS } from '../../src/errors.js'
import { CLIENT_COMMANDS, specOf } from '../../src/cli/commands.js'
import { docText, fencedBlocks, readDocs } from './docs.js'

// The README is the newcomer's page; the reference is docs/*.md. Every name
// users and scripts rely on must be documented in its page (these checks fail
// when something is added but not documented), and every name the docs show
// must exist (these fail when the docs name something that is not there).
const docs = readDocs()
const readme = docText(docs, 'README.md')
const all = docs.map((d) => d.text).join('\n')
const errorsDoc = docText(docs, 'docs/errors.md')
const configDoc = docText(docs, 'docs/configuration.md')
const cliDoc = docText(docs, 'docs/cli.md')
const adminDoc = docText(docs, 'docs/admin-api.md')

t.test('the first screen has the two commands', async (t) => {
  const firstScreen = readme.split('\n').slice(0, 25).join('\n')
  t.match(firstScreen, /npm ci && npx switchyard demo/)
  t.match(firstScreen, /npm test/)
})

t.test('every error code is documented in docs/errors.md, with its status', async (t) => {
  for (const [code, { status }] of Object.entries(ERRORS)) {
    t.match(errorsDoc, new RegExp(`\\b${status}\\b.*\`${code}\`|\`${code}\`.*\\b${status}\\b`), `${code} (${status})`)
  }
})

/** The rows of the errors table: `| status | `CODE` | when |`. */
export function errorRows(text: string): { status: number, code: string }[] {
  return [...text.matchAll(/^\|\s*(\d{3})\s*\|\s*`([A-Z0-9_]+)`\s*\|/gm)].map((m) => ({ status: Number(m[1]), code: m[2] }))
}

t.test('every code in the errors table is in the catalogue (src/errors.ts)', async (t) => {
  const rows = errorRows(errorsDoc)
  t.ok(rows.length >= Object.keys(ERRORS).length, `${rows.length} rows read from the table (the reader works)`)
  for (const { status, code } of rows) t.ok(code in ERRORS, `${status} ${code} is in ERRORS`)
  t.same(errorRows('| 404 | `NOPE` | x |\n| status | code | when |\n'), [{ status: 404, code: 'NOPE' }], 'the reader sees rows, not the header')
})

t.test('every contract metric is documented', async (t) => {
  const metrics = [
    'requests_total', 'request_duration_seconds', 'upstream_errors_total', 'live_color', 'canary_percent',
    'state_version', 'flips_total', 'auto_reverts_total', 'last_flip_timestamp_seconds',
  ]
  for (const m of metrics) t.match(all, `switchyard_${m}`, m)
})

t.test('every config section is documented in docs/configuration.md', async (t) => {
  for (const key of Object.keys(ConfigSchema.properties)) t.match(configDoc, new RegExp(`^\\s*${key}:`, 'm'), `config key ${key}`)
})

/**
 * Keys of `value` (a parsed YAML block) that `schema` does not have, as
 * dotted paths. Unions offer the keys of all their object variants; a record
 * (`apps`) checks each value against its value schema.
 */
/** The parts of a JSON schema (TypeBox's) that the key check reads. */
interface Shape {
  type?: unknown
  anyOf?: Shape[]
  items?: Shape
  properties?: Record<string, Shape>
  patternProperties?: Record<string, Shape>
}

export function unknownKeys(value: unknown, schema: Shape, path = ''): string[] {
  if (schema.anyOf !== undefined) {
    const variants = schema.anyOf.filter((s) => s.type === 'object')
    if (variants.length === 0) return []
    const merged: Shape = { type: 'object', properties: Object.assign({}, ...variants.map((s) => s.properties)) as Record<string, Shape> }
    return unknownKeys(value, merged, path)
  }
  if (Array.isArray(value)) {
    const items = schema.items
    return schema.type === 'array' && items !== undefined ? value.flatMap((v, i) => unknownKeys(v, items, `${path}.${i}`)) : []
  }
  if (value === null || typeof value !== 'object' || schema.type !== 'object') return []
  const out: string[] = []
  for (const [k, v] of Object.entries(value)) {
    const at = path === '' ? k : `${path}.${k}`
    const pattern = schema.patternProperties
    const sub = schema.properties?.[k] ?? (pattern === undefined ? undefined : Object.values(pattern)[0])
    if (sub === undefined) out.push(at)
    else out.push(...unknownKeys(v, sub, at))
  }
  return out
}

/** The config schema as the JSON schema it is (TypeBox's static types say more than the check reads). */
const configShape = ConfigSchema as unknown as Shape

t.test('every key in the docs\' YAML blocks is in the config schema', async (t) => {
  t.same(unknownKeys({ listen: { port: 1, nope: 2 }, apps: { a: { hosts: [], smoke: { checks: [{ pathh: '/' }] } } } }, configShape),
    ['listen.nope', 'apps.a.smoke.checks.0.pathh'], 'the checker finds unknown keys, in apps too')
  t.same(unknownKeys({ apps: { a: { autoRevert: { maxErrorRate: 0.1 }, listen: { port: 1 } } } }, configShape), ['apps.a.listen'],
    'an app is checked against the app schema (listen is for the whole router)')
  let blocks = 0
  for (const doc of docs) {
    for (const block of fencedBlocks(doc.text, 'yaml')) {
      blocks++
      let value: unknown
      try {
        value = parse(block)
      } catch (e) {
        t.fail(`${doc.path}: a \`\`\`yaml block does not parse: ${(e as Error).message}`)
        continue
      }
      const unknown = unknownKeys(value, configShape)
      t.same(unknown, [], `${doc.path}: every \`\`\`yaml block is a switchyard config or part of one; keys not in the schema: ${unknown.join(', ')}`)
    }
  }
  t.ok(blocks >= 5, `${blocks} yaml blocks read (the reader works)`)
  const inConfigDoc = fencedBlocks(configDoc, 'yaml').map((b) => parse(b) as Record<string, unknown>)
  t.ok(inConfigDoc.some((b) => 'apps' in b && Object.keys(b.apps as object).length >= 2), 'docs/configuration.md shows an apps: block (its app keys are checked against the app schema)')
})

t.test('every CLI command is documented in docs/cli.md', async (t) => {
  for (const cmd of CLIENT_COMMANDS) t.match(cliDoc, `switchyard ${cmd}`, `command ${cmd}`)
  for (const cmd of ['serve', 'demo']) t.match(all, `switchyard ${cmd}`, `command ${cmd}`)
})

/** Every `switchyard <word> [<next>]` in a text: the word and what follows it. */
export function commandMentions(text: string): { command: string, next: string }[] {
  return [...text.matchAll(/\bswitchyard ([a-z][a-z-]*)(?: ([^\s`]+))?/g)].map((m) => ({ command: m[1], next: m[2] ?? '' }))
}

t.test('every `switchyard <command>` in docs/cli.md is a real command, with real subcommands', async (t) => {
  const mentions = commandMentions(cliDoc)
  t.ok(mentions.length >= 20, `${mentions.length} mentions read (the reader works)`)
  t.same(commandMentions('`switchyard flp --x` and switchyard cohort set|ls'), [{ command: 'flp', next: '--x' }, { command: 'cohort', next: 'set|ls' }])
  for (const { command, next } of mentions) {
    const spec = specOf(command)
    if (command === 'help') continue
    t.ok(spec, `switchyard ${command} is a command (src/cli/commands.ts)`)
    if (spec?.words === undefined || !/^[a-z][a-z|]*$/.test(next)) continue
    for (const w of next.split('|')) t.ok(spec.words.includes(w), `switchyard ${command} ${w}: ${w} is one of ${spec.words.join(', ')}`)
  }
})

t.test('every admin route of the contract is documented in docs/admin-api.md', async (t) => {
  const routes = [
    'GET /v1/state', 'POST /v1/flip', 'POST /v1/rollback', 'PUT /v1/canary', 'GET /v1/cohorts', 'PUT /v1/cohorts/:name',
    'DELETE /v1/cohorts/:name', 'POST /v1/rollout', 'POST /v1/smoke', 'GET /v1/health', 'GET /v1/history',
    'POST /v1/explain', 'GET /v1/instances', 'GET /metrics', 'GET /healthz', 'GET /readyz',
  ]
  for (const r of routes) t.match(adminDoc, r, r)
})
