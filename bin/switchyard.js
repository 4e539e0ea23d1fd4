#!/usr/bin/env node
// The package bin: runs the compiled CLI (npm ci runs `prepare`, which builds dist/).
import { existsSync } from 'node:fs'

const entry = new URL('../dist/cli/index.js', import.meta.url)
if (!existsSync(entry)) {
  process.stderr.write('switchyard: not built yet; run `npm run build` (npm ci does it for you)\n')
  process.exit(1)
}
const { main } = await import(entry.href)
process.exitCode = await main(process.argv.slice(2))
