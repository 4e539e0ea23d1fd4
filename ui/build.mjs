// Copies the dashboard's static files next to the compiled modules (dist/ui); tsc builds the .js.
import { copyFileSync, mkdirSync } from 'node:fs'
const out = new URL('../dist/ui/', import.meta.url)
mkdirSync(out, { recursive: true })
for (const f of ['index.html', 'style.css', 'icon.svg']) copyFileSync(new URL(f, import.meta.url), new URL(f, out))
