/**
 * The commit a program was built from (`qwen version --verbose`). `npm run build` compiles a
 * small generated entry that sets `globalThis.__QWEN_BUILD__` before src/main.ts runs: one
 * mechanism both `bun build --compile` and `deno compile` carry, where a `--define` would be
 * Bun's alone. Run from source, there is no such entry, and git is asked at run time instead.
 * docs/releases.md#version-and-commit.
 */
import process from "node:process";

/** The global the build's generated entry sets; scripts/build.ts writes it. */
export const BUILD_GLOBAL = "__QWEN_BUILD__";

export interface CheckoutState {
  /** The full hash of HEAD. */
  commit: string;
  /** Tracked files differ from HEAD. */
  modified: boolean;
}

interface BuildInfo {
  /** Whether this program came out of `npm run build` (else: run from source). */
  built: boolean;
  /** The checkout's state, built in or read now; undefined when there was no git checkout. */
  checkout: CheckoutState | undefined;
}

/** What this program knows of where it came from; `sourceDir` is asked when not built. */
export async function buildInfo(sourceDir: string): Promise<BuildInfo> {
  const stamp = (globalThis as Record<string, unknown>)[BUILD_GLOBAL];
  if (stamp !== undefined) {
    const checkout = (stamp as { checkout?: CheckoutState | null }).checkout ?? undefined;
    return { built: true, checkout };
  }
  return { built: false, checkout: await readCheckout(sourceDir) };
}

/** HEAD and whether tracked files changed, in the git checkout holding `dir`; else undefined. */
export async function readCheckout(dir: string): Promise<CheckoutState | undefined> {
  const head = await git(dir, ["rev-parse", "--verify", "HEAD"]);
  if (head === undefined || !/^[0-9a-f]{40,64}$/.test(head.trim())) return undefined;
  const changes = await git(dir, ["status", "--porcelain", "--untracked-files=no"]);
  return { commit: head.trim(), modified: changes !== undefined && changes.trim() !== "" };
}

/** git's stdout, or undefined when git is missing, fails or `dir` is no checkout. */
function git(dir: string, args: string[]): Promise<string | undefined> {
  // Loaded on first use: a static import is evaluated at every start of the compiled binary.
  const { execFile } = process.getBuiltinModule(
    "node:child_process",
  ) as typeof import("node:child_process");
  return new Promise((resolve) => {
    execFile("git", ["-C", dir, ...args], { timeout: 5_000, windowsHide: true }, (error, out) => {
      resolve(error ? undefined : String(out));
    });
  });
}
