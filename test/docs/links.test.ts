import t from 'tap'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

// Every file the documentation points at is in the repository: markdown
// links, and `code` spans that name a repository path (`bench/run.js`,
// `config/container.yaml`) or a file (`LICENSE`, `Dockerfile`, `x.md`).

const root = fileURLToPath(new URL('../../', import.meta.url))
const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]
const topLevel = new Set(readdirSync(root).filter((f) => !['node_modules', '.git', '.tap', 'dist', 'coverage'].includes(f)))

/** Paths that a document refers to, relative to the repository root. */
export function referencedPaths(text: string, docDir: string): { path: string, as: string }[] {
  const out: { path: string, as: string }[] = []
  // [text](target) — skip URLs, anchors and mail
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1].split('#')[0]
    if (target === '' || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue
    out.push({ path: relative(root, join(root, docDir, target)), as: m[0] })
  }
  // `path/like/this.ts`, `docs/`, `LICENSE` — one word, no placeholders or globs
  for (const m of text.matchAll(/`([^`\s]+)`/g)) {
    const word = m[1].replace(/[.,:;]$/, '')
    if (/[<>*{}$=]/.test(word) || word.startsWith('/') || word.startsWith('-')) continue
    const first = word.split('/')[0]
    const isRepoPath = word.includes('/') && topLevel.has(first)
    const isFileName = !word.includes('/') && (/^[\w-]+\.(md|ts|js|mjs|json|ya?ml)$/.test(word) || ['LICENSE', 'Dockerfile'].includes(word))
    if (!isRepoPath && !isFileName) continue
    // a bare file name may live at the top or beside the document
    const candidates = isFileName ? [word, join(docDir, word)] : [word]
    out.push({ path: candidates.find((c) => existsSync(join(root, c))) ?? candidates[0], as: m[0] })
  }
  return out
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-')
}

/** The anchors of a markdown text's headings (outside code fences); repeated headings get -1, -2, .... */
export function anchors(text: string): Set<string> {
  const out = new Set<string>()
  let fence = false
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fence = !fence
    const m = fence ? null : /^#{1,6}\s+(.*)$/.exec(line)
    if (m === null) continue
    const base = slug(m[1])
    let a = base
    for (let i = 1; out.has(a); i++) a = `${base}-${i}`
    out.add(a)
  }
  return out
}

/** Links with a fragment to a markdown file (or to the document itself): the file and the anchor. */
export function anchorLinks(text: string, docDir: string, doc: string): { path: string, anchor: string, as: string }[] {
  const out: { path: string, anchor: string, as: string }[] = []
  for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    const [target, anchor] = m[1].split('#')
    if (anchor === undefined || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue
    if (target !== '' && !target.endsWith('.md')) continue
    out.push({ path: target === '' ? doc : relative(root, join(root, docDir, target)), anchor, as: m[0] })
  }
  return out
}

for (const doc of docs) {
  t.test(`${doc}: every link to a heading finds it`, async (t) => {
    for (const l of anchorLinks(readFileSync(join(root, doc), 'utf8'), dirname(doc), doc)) {
      if (!existsSync(join(root, l.path))) continue // the file test below reports it
      t.ok(anchors(readFileSync(join(root, l.path), 'utf8')).has(l.anchor), `${l.as} → ${l.path} has a heading #${l.anchor}`)
    }
  })
  t.test(`${doc}: every referenced file exists`, async (t) => {
    const refs = referencedPaths(readFileSync(join(root, doc), 'utf8'), dirname(doc))
    if (doc === 'README.md') t.ok(refs.length > 5, 'the README refers to files (the finder works)')
    for (const r of refs) t.ok(existsSync(join(root, r.path)), `${r.as} → ${r.path}`)
  })
}

t.test('the finder sees links, code paths and bare file names, and skips URLs and placeholders', async (t) => {
  const refs = referencedPaths(
    'see [perf](docs/performance.md#x), [site](https://x.org/a.md), `bench/run.js`, `DESIGN.md`, `LICENSE`, ' +
      '`bench/results/<timestamp>.json`, `/etc/switchyard/config.yaml`, `x-forwarded-for`, `listen.port`',
    '.',
  ).map((r) => r.path)
  t.same(refs, ['docs/performance.md', 'bench/run.js', 'DESIGN.md', 'LICENSE'])
})

t.test('anchors are GitHub\'s, and the link finder sees same-page and other-page fragments', async (t) => {
  t.same([...anchors('# Several instances (Redis)\n## `GET /v1/events`\n```\n# not a heading\n```\n## Watching, auto-revert and rollouts\n### Many apps\n## Many apps\n')],
    ['several-instances-redis', 'get-v1events', 'watching-auto-revert-and-rollouts', 'many-apps', 'many-apps-1'])
  t.same(anchorLinks('[a](#x) [b](cli.md#exit-codes) [c](https://x.org/a.md#y) [d](x.png) [e](../README.md#z)', 'docs', 'docs/errors.md').map((l) => `${l.path}#${l.anchor}`),
    ['docs/errors.md#x', 'docs/cli.md#exit-codes', 'README.md#z'])
})
