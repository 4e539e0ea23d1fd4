import { mkdir, open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

let seq = 0

/**
 * Replaces `path` with `data` so a reader sees the old file or the new one,
 * never half of either: write a temp file in the same folder, then rename it
 * over. With `durable`, the data is fsynced before the rename and the folder
 * after it, so the new file also survives a power cut. Creates the folder.
 * Throws the file system's error; the temp file is removed on failure.
 */
export async function writeFileAtomic(path: string, data: string, durable: boolean): Promise<void> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${++seq}.tmp`)
  try {
    await mkdir(dir, { recursive: true })
    const fh = await open(tmp, 'wx', 0o600)
    try {
      await fh.writeFile(data)
      // The data must be on disk before the rename makes it the file.
      if (durable) await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (e) {
    await unlink(tmp).catch(() => undefined)
    throw e
  }
  if (durable) await syncDir(dir)
}

/** Makes a rename durable; some file systems refuse to fsync a folder, which is harmless. */
async function syncDir(dir: string): Promise<void> {
  let fh
  try {
    fh = await open(dir, 'r')
    await fh.sync()
  } catch {
    // EISDIR/EPERM/EINVAL on platforms that cannot fsync a directory.
  } finally {
    await fh?.close()
  }
}
