import t from 'tap'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createFileStore } from '../../src/control/store/index.js'
import { appFilePath } from '../../src/control/store/open.js'
import { tempDir } from '../helpers/fs.js'
import { storeContract, type StoreHarness } from './contract.js'

/** The shared store contract against the file store (its own cases: test/control/file-store.test.ts). */
const harness: StoreHarness = {
  kind: 'file',
  async location(t) {
    const path = join(await tempDir(t), 'state.json')
    return {
      open(o = {}) {
        const store = createFileStore({ path, ...o })
        t.teardown(() => store.close())
        return store
      },
      writeRawState: (text) => writeFile(path, text),
      readRawState: () => readFile(path, 'utf8').catch(() => null),
      storedHistoryLength: async () => (JSON.parse(await readFile(path, 'utf8')) as { history: unknown[] }).history.length,
    }
  },
  async storeConfig(t) {
    return { store: { type: 'file', path: join(await tempDir(t), 'state.json') } }
  },
  openAppDirectly(_t, config, app) {
    if (config.store.type !== 'file') throw new Error('not a file store config')
    return createFileStore({ path: appFilePath(config.store.path, app) })
  },
}

storeContract(t, harness)
