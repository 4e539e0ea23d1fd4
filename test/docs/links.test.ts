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

for (const doc of docs) {
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
