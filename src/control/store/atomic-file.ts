import { randomBytes } from 'node:crypto'
import { mkdir, open, readdir, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/**
 * The temp file `writeFileAtomic` writes before renaming it over `path`:
 * `.<name>.<pid>.<random>.tmp` in the same folder. The suffix is random, not
 * a per-process counter: in a container the router is always PID 1, so a
 * counter would make a restarted process reuse the exact names its crashed
 * predecessor left behind, and the exclusive open would fail (EEXIST).
 */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
}

/**
 * Matches the temp files of a file named `name`, as written by this version
 * (`<pid>.<hex>`) and by earlier ones (`<pid>.<counter>`), and nothing else.
 */
function tempNamePattern(name: string): RegExp {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`^\\.${escaped}\\.\\d+\\.[0-9a-f]+\\.tmp$`)
}

/**
 * Replaces `path` with `data` so a reader sees the old file or the new one,
 * never half of either: write a temp file in the same folder, then rename it
 * over. With `durable`, the data is fsynced before the rename and the folder
 * after it, so the new file also survives a power cut. Creates the folder.
 * Throws the file system's error; the temp file is removed on failure (a
 * crash leaves it behind: {@link removeStaleTempFiles} cleans up).
 */
export async function writeFileAtomic(path: string, data: string, durable: boolean): Promise<void> {
  const dir = dirname(path)
  const tmp = tempPathFor(path)
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

/**
 * Writes `bytes` bytes to a fresh temp file next to `path` and removes it:
 * whether a write of that size could succeed now (space, read-only mount,
 * a path that is no longer a folder). Nothing is fsynced and the file never
 * becomes `path`. Throws the file system's error.
 */
export async function probeWritable(path: string, bytes: number): Promise<void> {
  const tmp = tempPathFor(path)
  try {
    await mkdir(dirname(path), { recursive: true })
    const fh = await open(tmp, 'wx', 0o600)
    try {
      await fh.writeFile(Buffer.alloc(Math.max(1, bytes)))
    } finally {
      await fh.close()
    }
  } finally {
    await unlink(tmp).catch(() => undefined)
  }
}

/**
 * Removes the temp files a crashed writer of `path` left in its folder:
 * only names of the form `.<name>.<pid>.<suffix>.tmp` (see
 * {@link tempPathFor}), never another file. Call it when the owner of `path`
 * opens, before its first write. Never throws: a folder that cannot be listed
 * or a file that cannot be removed is left alone (the next write reports a
 * real problem itself). Returns the names removed.
 */
export async function removeStaleTempFiles(path: string): Promise<string[]> {
  const dir = dirname(path)
  const pattern = tempNamePattern(basename(path))
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const removed: string[] = []
  for (const name of names) {
    if (!pattern.test(name)) continue
    try {
      await unlink(join(dir, name))
      removed.push(name)
    } catch {
      // gone already, or not a file (a folder by that name): not ours to force
    }
  }
  return removed
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
