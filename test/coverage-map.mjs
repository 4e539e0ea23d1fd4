// Coverage is enforced (100%) for the pure routing core only: tests under
// test/routing/ cover the files of src/routing/; other tests cover nothing,
// so integration tests cannot hide an untested routing branch.
import { readdirSync } from 'node:fs'

const routing = readdirSync(new URL('../src/routing/', import.meta.url))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => `src/routing/${f}`)

export default function coverageMap(testFile) {
  return testFile.replace(/\\/g, '/').startsWith('test/routing/') ? routing : null
}
