/**
 * QWEN_HOME as a folder: `qwen` creates it with mode 0700 and never changes the mode of one that
 * exists (it may be shared, `/tmp` even), but says when other users could replace the files in it.
 */
import { stat } from "node:fs/promises";
import process from "node:process";

const WRITABLE_BY_OTHERS = 0o022;
const STICKY = 0o1000;

/**
 * A warning when `home` can be written by its group or others without the sticky bit: anyone
 * who can write there can replace a credentials file with their own. Undefined otherwise, and
 * for a home that does not exist yet.
 */
export async function homeFolderWarning(home: string): Promise<string | undefined> {
  // Windows has no such mode bits: every folder would look writable by everyone.
  if (process.platform === "win32") return undefined;
  let mode: number;
  try {
    mode = (await stat(home)).mode;
  } catch {
    return undefined;
  }
  if ((mode & WRITABLE_BY_OTHERS) === 0 || (mode & STICKY) !== 0) return undefined;
  const octal = (mode & 0o7777).toString(8).padStart(4, "0");
  return `"${home}" (mode ${octal}) can be written by other users, who could replace the ` +
    "credentials in it; run chmod 700 on it unless it is meant to be shared";
}
