export type { StateStore } from './types.js'
export { createFileStore, type FileStoreOptions } from './file-store.js'
