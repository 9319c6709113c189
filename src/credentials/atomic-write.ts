import { lstat, mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** `.<file>.<uuid>.tmp`, as written below, for the files of QWEN_HOME (all of them `.json`). */
const OUR_TEMP_FILE =
  /^\..+\.json\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp$/;
/** A write takes milliseconds; a temporary file this old was left by a process that died. */
const STALE_TEMP_MS = 60_000;

/**
 * Writes a secret file so that readers see either the old or the new content, never half of
 * it: temp file in the same directory, created with mode 0600, fsync, rename over the target
 * (a symlink there is replaced, not followed). A missing directory is created with mode 0700;
 * an existing one keeps its mode (it may be shared: homeFolderWarning says so). Temporary files
 * that an earlier process left behind, holding a key, are removed first.
 */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await removeStaleTempFiles(dir);
  const temp = join(dir, `.${basename(path)}.${crypto.randomUUID()}.tmp`);
  // Exclusive create: never a file (or link) someone placed there. The umask can only take
  // bits away from 0600, so the key is never readable by others, not even for a moment.
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(content, "utf8");
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => {});
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Our own temporary files in `dir` older than STALE_TEMP_MS; best effort. */
async function removeStaleTempFiles(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const oldest = Date.now() - STALE_TEMP_MS;
  for (const name of names) {
    if (!OUR_TEMP_FILE.test(name)) continue;
    const path = join(dir, name);
    try {
      const info = await lstat(path);
      if (info.isFile() && info.mtimeMs < oldest) await rm(path, { force: true });
    } catch {
      // Gone already (another process cleaned it), or not ours to touch.
    }
  }
}
