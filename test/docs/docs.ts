import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The documentation: README.md and every docs/*.md, read once. */

export const root = fileURLToPath(new URL('../../', import.meta.url))

export interface Doc {
  /** path relative to the repository root, e.g. `docs/cli.md` */
  path: string
  text: string
}

export function readDocs(): Doc[] {
  const pages = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)
  return ['README.md', ...pages].map((path) => ({ path, text: readFileSync(join(root, path), 'utf8') }))
}

/** The text of one document; throws when it is missing, naming it. */
export function docText(docs: Doc[], path: string): string {
  const doc = docs.find((d) => d.path === path)
  if (doc === undefined) throw new Error(`${path} is missing (the docs are ${docs.map((d) => d.path).join(', ')})`)
  return doc.text
}

/** The bodies of the fenced code blocks of one language (```yaml ... ```). */
export function fencedBlocks(text: string, lang: string): string[] {
  const out: string[] = []
  const re = new RegExp('^```' + lang + '[ \\t]*\\n([\\s\\S]*?)^```[ \\t]*$', 'gm')
  for (const m of text.matchAll(re)) out.push(m[1])
  return out
}
