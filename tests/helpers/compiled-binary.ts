/**
 * The compiled `qwen` binary for the tests that run it: `QWEN_TEST_BINARY` when set (npm test
 * builds dist/qwen first and sets it), else dist/qwen when it is newer than every source file,
 * else a fresh `scripts/build.ts --host` into a temporary folder.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";

let cached: string | undefined;

export function compiledBinary(): string {
  if (cached) return cached;
  const fromEnv = process.env.QWEN_TEST_BINARY;
  if (fromEnv) return (cached = resolve(fromEnv));
  const dist = resolve("dist", process.platform === "win32" ? "qwen.exe" : "qwen");
  if (isNewerThanSources(dist)) return (cached = dist);
  // The build script, not a bare `bun build`: its binary carries the commit (version --verbose).
  const out = mkdtempSync(join(tmpdir(), "qwen-bin-"));
  const bun = resolve("node_modules", ".bin", "bun");
  const r = spawnSync(bun, ["scripts/build.ts", "--host", "--dist", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`Cannot build the binary for the tests: ${r.stderr}`);
  return (cached = join(out, process.platform === "win32" ? "qwen.exe" : "qwen"));
}

function isNewerThanSources(binary: string): boolean {
  let built: number;
  try {
    built = statSync(binary).mtimeMs;
  } catch {
    return false;
  }
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs
      ),
    );
  return built > Math.max(newest("src"), statSync("package.json").mtimeMs);
}
