export type { StateStore } from './types.js'
export { FileStore, createFileStore, type FileStoreOptions } from './file-store.js'
