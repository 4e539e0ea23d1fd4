/**
 * A small Dockerfile reader for the image test: just enough of the syntax to
 * replay this project's recipe without Docker. Anything it does not know is
 * an error, so a new kind of step cannot slip past the replay unnoticed.
 */

export interface Instruction {
  op: string
  args: string
  line: number
}

export interface CopyStep {
  from: string | null
  sources: string[]
  dest: string
}

export interface Stage {
  name: string | null
  image: string
  workdir: string
  steps: Instruction[]
}

/** Instructions in order; continuation lines joined, comments and blank lines dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i].trim()
    if (first === '' || first.startsWith('#')) continue
    const line = i + 1
    let joined = first
    while (joined.endsWith('\\') && i + 1 < lines.length) {
      joined = joined.slice(0, -1)
      const next = lines[++i].trim()
      if (!next.startsWith('#')) joined += ' ' + next
    }
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(joined.trim())
    if (m === null) throw new Error(`Dockerfile line ${line}: cannot read "${joined}"`)
    out.push({ op: m[1].toUpperCase(), args: m[2].trim().replace(/\s+/g, ' '), line })
  }
  return out
}

/** Splits instructions into stages (each FROM starts one); WORKDIR is tracked per stage. */
export function stages(instructions: Instruction[]): Stage[] {
  const out: Stage[] = []
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)
      if (m === null) throw new Error(`Dockerfile line ${ins.line}: cannot read FROM ${ins.args}`)
      out.push({ image: m[1], name: m[2] ?? null, workdir: '/', steps: [] })
      continue
    }
    const stage = out.at(-1)
    if (stage === undefined) throw new Error(`Dockerfile line ${ins.line}: ${ins.op} before FROM`)
    stage.steps.push(ins)
  }
  return out
}

/** The exec (JSON) form of ENTRYPOINT, CMD or VOLUME; the shell form is refused (signals would not reach node). */
export function execForm(ins: Instruction): string[] {
  let v: unknown
  try {
    v = JSON.parse(ins.args)
  } catch {
    throw new Error(`Dockerfile line ${ins.line}: ${ins.op} must use the JSON exec form`)
  }
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
    throw new Error(`Dockerfile line ${ins.line}: ${ins.op} must be a list of strings`)
  return v
}

/** `KEY=value KEY2="a b"` pairs of ENV or LABEL. */
export function pairs(ins: Instruction): Record<string, string> {
  const out: Record<string, string> = {}
  const re = /([A-Za-z_][\w.-]*)=("(?:[^"\\]|\\.)*"|\S+)/g
  let rest = ins.args
  for (const m of ins.args.matchAll(re)) {
    const raw = m[2]
    out[m[1]] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw
    rest = rest.replace(m[0], '')
  }
  if (rest.trim() !== '') throw new Error(`Dockerfile line ${ins.line}: ${ins.op} only in KEY=value form (left: "${rest.trim()}")`)
  return out
}

/** COPY [--from=stage] src... dest; other flags and globs are refused. */
export function copyStep(ins: Instruction): CopyStep {
  const words = ins.args.split(' ')
  let from: string | null = null
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!
    const m = /^--from=(\S+)$/.exec(flag)
    if (m === null) throw new Error(`Dockerfile line ${ins.line}: the replay does not know COPY ${flag}`)
    from = m[1]
  }
  if (words.length < 2) throw new Error(`Dockerfile line ${ins.line}: COPY needs a source and a destination`)
  const dest = words.pop()!
  for (const s of words) if (/[*?[]/.test(s)) throw new Error(`Dockerfile line ${ins.line}: the replay does not expand globs (${s})`)
  return { from, sources: words, dest }
}
