/**
 * Where the running binary lives and whether `qwen upgrade` may replace it there: not where a
 * package manager put it (the package manager would then disagree with what is on disk, and undo
 * it), and only in a folder we can write to; then the swap itself.
 */
import { link, open, readdir, realpath, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";
import { QwenError } from "../../lib/errors.ts";

/** Folders package managers own, as path prefixes ("/" separated; Windows ones lower-cased). */
const PACKAGE_MANAGED: readonly [prefix: string, owner: string][] = [
  ["/usr/bin/", "the system's package manager"],
  ["/usr/sbin/", "the system's package manager"],
  ["/bin/", "the system's package manager"],
  ["/sbin/", "the system's package manager"],
  ["/usr/lib/", "the system's package manager"],
  ["/usr/libexec/", "the system's package manager"],
  ["/usr/share/", "the system's package manager"],
  ["/usr/local/Cellar/", "Homebrew"],
  ["/usr/local/Caskroom/", "Homebrew"],
  ["/opt/homebrew/", "Homebrew"],
  ["/home/linuxbrew/.linuxbrew/", "Homebrew"],
  ["/nix/store/", "Nix"],
  ["/gnu/store/", "Guix"],
  ["/snap/", "snap"],
  ["/var/lib/snapd/", "snap"],
  ["/var/lib/flatpak/", "Flatpak"],
  ["/opt/local/", "MacPorts"],
  ["/scoop/apps/", "Scoop"],
  ["/winget/packages/", "winget"],
  ["/chocolatey/", "Chocolatey"],
];

/**
 * The file to replace: the binary's real path (a link to it, as Homebrew makes, is followed).
 * A refusal names the reason when it lives in a package manager's folder.
 */
export async function binaryToReplace(path: string): Promise<string> {
  const real = await realpath(path).catch(() => path);
  for (const candidate of [path, real]) {
    const slashed = candidate.replaceAll("\\", "/");
    for (const [prefix, owner] of PACKAGE_MANAGED) {
      const windows = prefix.startsWith("/scoop") || prefix.startsWith("/winget") ||
        prefix.startsWith("/chocolatey");
      const matches = windows ? slashed.toLowerCase().includes(prefix) : slashed.startsWith(prefix);
      if (matches) {
        throw new QwenError(
          `Refusing to replace "${candidate}": it lives in "${prefix}", where ${owner} installs ` +
            "things, and would undo or trip over the change. Upgrade it with that package " +
            "manager, or install qwen to a folder of yours (e.g. ~/.local/bin)",
        );
      }
    }
  }
  return real;
}

/** Refuses, with the reason, when no new file can be created beside the binary. */
export async function checkWritable(binary: string): Promise<void> {
  const folder = dirname(binary);
  const probe = join(folder, `.${basename(binary)}.write-test-${crypto.randomUUID()}`);
  try {
    await (await open(probe, "wx", 0o600)).close();
  } catch (error) {
    const code = (error as { code?: string }).code ?? "";
    throw new QwenError(
      `Cannot upgrade "${binary}": its folder "${folder}" is not writable (${
        code || (error as Error).message
      }). Run "qwen upgrade" as the user who owns it, or install qwen to a folder of yours ` +
        "(e.g. ~/.local/bin)",
    );
  }
  await rm(probe, { force: true });
}

/** The name of a download beside `binary`, which becomes the binary once checked. */
export function downloadPath(binary: string): string {
  return join(dirname(binary), `.${basename(binary)}.new-${crypto.randomUUID()}`);
}

/** An upgrade takes minutes at most: a download this old was left by one that was killed. */
const STALE_DOWNLOAD_MS = 60 * 60_000;

/** Removes what a killed upgrade left beside `binary`; best effort. */
export async function removeStaleDownloads(binary: string): Promise<void> {
  const folder = dirname(binary);
  const ours = new RegExp(
    `^\\.${
      basename(binary).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    }\\.(new|write-test)-[0-9a-f-]{36}$`,
  );
  const names = await readdir(folder).catch(() => []);
  for (const name of names) {
    if (!ours.test(name)) continue;
    const path = join(folder, name);
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile() && Date.now() - info.mtimeMs > STALE_DOWNLOAD_MS) {
      await rm(path, { force: true }).catch(() => {});
    }
  }
}

/** `qwen` → `qwen.old`; `qwen.exe` → `qwen.old.exe`, which stays runnable on Windows. */
export function oldBinaryPath(binary: string): string {
  const extension = extname(binary).toLowerCase() === ".exe" ? extname(binary) : "";
  return `${binary.slice(0, binary.length - extension.length)}.old${extension}`;
}

/**
 * Puts `fresh` in place of `binary`, keeping the previous one as `old`. Where the system allows,
 * the binary's path never stops existing: a hard link keeps the old file, then a rename replaces
 * the path in one step. Windows cannot replace a running program's file, only rename it: there
 * the old one moves aside first (and comes back if the second rename fails).
 */
export async function swapBinary(
  binary: string,
  fresh: string,
  old: string,
  windows: boolean,
): Promise<void> {
  await rm(old, { force: true });
  if (!windows) {
    let linked = true;
    try {
      await link(binary, old);
    } catch {
      // A file system without hard links: fall back to moving the old one aside.
      linked = false;
    }
    if (linked) {
      await rename(fresh, binary);
      return;
    }
  }
  await rename(binary, old);
  try {
    await rename(fresh, binary);
  } catch (error) {
    await rename(old, binary).catch(() => {});
    throw error;
  }
}
