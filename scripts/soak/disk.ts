/**
 * A full disk for a while, where QWEN_HOME lives (the credentials, the key files, the locks
 * and the state file), in one of three ways:
 *
 * - `tmpfs`: QWEN_HOME is a small tmpfs mounted for the soak; "full" fills it with a file until
 *   the kernel answers ENOSPC, and "free" deletes that file. A real full disk; needs the right
 *   to mount (root, here).
 * - `read-only`: QWEN_HOME's mode becomes 0500 (EACCES on every write). Only works for a user
 *   other than root, and only as long as nothing chmods the folder back: `qwen` itself chmods
 *   QWEN_HOME to 0700 before each write on today's main (issue 17, item 12).
 * - `immutable`: `chattr +i` on QWEN_HOME (EPERM on every create, rename or delete in it): root
 *   without the right to mount, on a file system with attributes.
 * `auto` picks tmpfs when mounting works, else read-only for a user other than root, else
 * immutable.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";

export type DiskMethod = "tmpfs" | "read-only" | "immutable" | "off";

export interface FullDisk {
  method: DiskMethod;
  fill(): Promise<void>;
  free(): Promise<void>;
  /** Frees and undoes the method (unmounts the tmpfs); safe to call twice. */
  release(): void;
}

const TMPFS_SIZE = "16m";
const FILLER = ".soak-filler";

/** Creates `home` (0700) and prepares the method asked for (or the one `auto` finds). */
export function prepareHome(home: string, asked: DiskMethod | "auto"): FullDisk {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const isRoot = process.getuid?.() === 0;
  const order: DiskMethod[] = asked !== "auto"
    ? [asked]
    : isRoot
    ? ["tmpfs", "immutable"]
    : ["tmpfs", "read-only"];
  for (const method of order) {
    const disk = tryMethod(method, home);
    if (disk) return disk;
    if (asked !== "auto") throw new Error(`Cannot simulate a full disk with "${method}" here`);
  }
  throw new Error("Cannot simulate a full disk here: try --disk-full off");
}

function tryMethod(method: DiskMethod, home: string): FullDisk | undefined {
  switch (method) {
    case "off":
      return { method, fill: async () => {}, free: async () => {}, release: () => {} };
    case "tmpfs": {
      const mounted = spawnSync("mount", [
        "-t",
        "tmpfs",
        "-o",
        `size=${TMPFS_SIZE},mode=0700`,
        "qwen-soak",
        home,
      ], { stdio: "ignore" });
      if (mounted.status !== 0) return undefined;
      let released = false;
      const filler = join(home, FILLER);
      return {
        method,
        fill: () => fillUp(filler),
        free: () => rm(filler, { force: true }),
        release() {
          if (released) return;
          released = true;
          spawnSync("rm", ["-f", filler]);
          const r = spawnSync("umount", [home], { stdio: "ignore" });
          if (r.status !== 0) spawnSync("umount", ["-l", home], { stdio: "ignore" });
        },
      };
    }
    case "read-only":
      if (process.getuid?.() === 0) return undefined; // Root writes anyway.
      return {
        method,
        fill: now(() => chmodSync(home, 0o500)),
        free: now(() => chmodSync(home, 0o700)),
        release: () => chmodSync(home, 0o700),
      };
    case "immutable": {
      const probe = spawnSync("chattr", ["+i", home], { stdio: "ignore" });
      if (probe.status !== 0) return undefined;
      spawnSync("chattr", ["-i", home], { stdio: "ignore" });
      return {
        method,
        fill: now(() => spawnSync("chattr", ["+i", home], { stdio: "ignore" })),
        free: now(() => spawnSync("chattr", ["-i", home], { stdio: "ignore" })),
        release: () => void spawnSync("chattr", ["-i", home], { stdio: "ignore" }),
      };
    }
  }
}

/** A synchronous step as the promise the interface wants. */
function now(step: () => unknown): () => Promise<void> {
  return () => {
    step();
    return Promise.resolve();
  };
}

/** Writes zeros to `path` until the file system is full. */
async function fillUp(path: string): Promise<void> {
  const chunk = new Uint8Array(256 * 1024);
  const handle = await open(path, "a");
  try {
    for (let i = 0; i < 4096; i++) {
      try {
        await handle.write(chunk);
      } catch (error) {
        if ((error as { code?: string }).code === "ENOSPC") break;
        throw error;
      }
    }
    // The last pages, smaller than a chunk.
    const small = new Uint8Array(4096);
    for (let i = 0; i < 64; i++) {
      try {
        await handle.write(small);
      } catch {
        break;
      }
    }
  } finally {
    await handle.close().catch(() => {});
  }
}
