/** Small helpers to summarise rounds and print aligned tables. */

export function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = v.length >> 1
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

export function sum(values) {
  return values.reduce((a, b) => a + (b ?? 0), 0)
}

/** Formats a number with a fixed count of decimals, or '–' when missing. */
export function fmt(v, decimals = 0) {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–'
  return decimals === 0 ? Math.round(v).toLocaleString('en-US') : v.toFixed(decimals)
}

/** A plain-text table; numbers right-aligned, text left-aligned. */
export function table(header, rows) {
  const widths = header.map((h, i) => Math.max(String(h).length, ...rows.map((r) => String(r[i]).length)))
  const isNum = header.map((_, i) => rows.every((r) => /^[-+–\d.,×%]*( ?(ms|MiB|x))?$/.test(String(r[i]))))
  const line = (cells) => cells.map((c, i) => (isNum[i] && i > 0 ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ')
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** The same table in Markdown, for docs/performance.md. */
export function markdownTable(header, rows) {
  const esc = (c) => String(c).replace(/\|/g, '\\|')
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n')
}
