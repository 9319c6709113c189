/**
 * Reading the private files of QWEN_HOME (OAuth credentials, API-key files): listing the
 * folder, reading one file with its identity. Reading changes no mode: the file may be a link
 * to someone else's file, and `qwen status` must leave the disk as it found it.
 */
import { readdir, readFile, stat } from "node:fs/promises";

type PrivateFileRead =
  | { kind: "missing" }
  /** Could not be read at all (permissions, a directory in its place, ...). */
  | { kind: "unreadable"; problem: string }
  /** `identity` as `fileIdentity` gives it, from the same stat. */
  | { kind: "read"; text: string; identity: string };

/**
 * Reads a file as text. A file readable by group or others (older official versions wrote 0644)
 * is read as it is: the next write replaces it with a file of mode 0600.
 */
export async function readPrivateFile(path: string): Promise<PrivateFileRead> {
  try {
    const info = await stat(path);
    const text = await readFile(path, "utf8");
    return { kind: "read", text, identity: identityOf(info) };
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT") return { kind: "missing" };
    return { kind: "unreadable", problem: (error as Error).message ?? String(error) };
  }
}

/**
 * Changes whenever the file is replaced or rewritten: inode, mtime and size. The mtime is in
 * whole milliseconds because Bun gives a fraction and Deno does not, and two `qwen serve` on
 * different runtimes compare identities through the state file.
 */
function identityOf(info: { ino: number; mtimeMs: number; size: number }): string {
  return `${info.ino}:${Math.floor(info.mtimeMs)}:${info.size}`;
}

/** The file's identity, or undefined when it cannot be stat'ed. */
export async function fileIdentity(path: string): Promise<string | undefined> {
  try {
    return identityOf(await stat(path));
  } catch {
    return undefined;
  }
}

/** The names in a folder; a missing folder (or a file in its place) has none. */
export async function listFolder(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw error;
  }
}
