/**
 * `npm run build`: every file of a release into dist/ (docs/releases.md):
 *   qwen-bun-<platform>[.exe] for each platform of src/lib/release.ts, by bun build --compile
 *     (Bun fetches the other platforms' runtimes from the npm registry); dist/qwen is the host's;
 *   qwen-deno-<platform>[.exe] by deno compile, when Deno can get its runtime (a download from
 *     dl.deno.land, or DENORT_BIN); skipped with one line when it cannot;
 *   each binary's archive (.tar.gz holding `qwen`, .zip holding `qwen.exe`), VERSION,
 *   install.sh (scripts/install.sh with the releases' address filled in) and SHA256SUMS.
 *
 *   bun scripts/build.ts --host          only dist/qwen (npm test)
 *   bun scripts/build.ts --package DIR   only the archives, VERSION, install.sh and SHA256SUMS,
 *                                        for the binaries in DIR (the release workflow, after
 *                                        the smoke tests and the macOS re-signing)
 *   --dist DIR                           write to DIR instead of dist/
 *
 * Every binary carries the commit it was built from: the compilers build a generated entry that
 * records it (src/lib/build-info.ts) and then runs src/main.ts.
 */
import { spawn } from "node:child_process";
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import process from "node:process";
import { parseArgs } from "node:util";
import { BUILD_GLOBAL, readCheckout } from "../src/lib/build-info.ts";
import {
  binaryFile,
  RELEASE_PLATFORMS,
  type ReleasePlatform,
  RELEASES_URL,
} from "../src/lib/release.ts";
import { VERSION } from "../src/lib/version.ts";
import { allBinaries, hostBinary, packageRelease } from "./release/files.ts";

const ROOT = resolve(import.meta.dirname ?? ".", "..");

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: {
    host: { type: "boolean" },
    package: { type: "string" },
    dist: { type: "string" },
  },
  strict: true,
});

/** Each platform's name for the two compilers. */
const TARGETS: Record<ReleasePlatform, { bun: string; deno: string }> = {
  "linux-x64": { bun: "bun-linux-x64", deno: "x86_64-unknown-linux-gnu" },
  "linux-arm64": { bun: "bun-linux-arm64", deno: "aarch64-unknown-linux-gnu" },
  "darwin-x64": { bun: "bun-darwin-x64", deno: "x86_64-apple-darwin" },
  "darwin-arm64": { bun: "bun-darwin-arm64", deno: "aarch64-apple-darwin" },
  "windows-x64": { bun: "bun-windows-x64", deno: "x86_64-pc-windows-msvc" },
};

// Run by Bun (`npm run build`), Bun is this process; else the pinned one.
const bun = process.versions.bun ? process.execPath : join(ROOT, "node_modules", ".bin", "bun");
const deno = join(ROOT, "node_modules", ".bin", "deno");

const log = (line: string) => process.stderr.write(`${line}\n`);

if (flags.package !== undefined) {
  process.exit(await packageOrSay(flags.package) ? 0 : 1);
}

const dist = resolve(flags.dist ?? join(ROOT, "dist"));
await mkdir(dist, { recursive: true });
const hostPlatform = `${
  process.platform === "win32" ? "windows" : process.platform
}-${process.arch}`;
const hostExe = hostBinary(dist);
let failed = false;

// In the checkout's dist/ (ignored by git, fmt, lint and check), beside the code it imports.
await mkdir(join(ROOT, "dist"), { recursive: true });
const entryDir = await mkdtemp(join(ROOT, "dist", ".entry-"));
try {
  const entry = await writeEntry(entryDir);

  // The host's binary: built for the machine we are on, no runtime to fetch.
  const host = await run(bun, [...bunFlags(), entry, "--outfile", hostExe]);
  if (host.code !== 0) {
    process.stderr.write(host.output);
    log(`Cannot build the host binary "${hostExe}"`);
    failed = true;
  } else log(`built ${hostExe} (bun, ${hostPlatform})`);

  if (!flags.host && !failed) {
    // A stale binary (a Deno one from an earlier run) must not be packaged with this build.
    for (const { file } of allBinaries()) await rm(join(dist, file), { force: true });
    for (const platform of RELEASE_PLATFORMS) {
      const out = join(dist, binaryFile(platform));
      if (platform === hostPlatform) {
        await copyFile(hostExe, out);
        log(`built ${out} (copy of the host binary)`);
        continue;
      }
      const r = await run(bun, [
        ...bunFlags(),
        `--target=${TARGETS[platform].bun}`,
        entry,
        "--outfile",
        out,
      ]);
      if (r.code !== 0) {
        failed = true;
        log(`Cannot build "${out}" for ${TARGETS[platform].bun}: ${lastLine(r.output)}`);
      } else log(`built ${out} (bun, not run here)`);
    }

    // deno compile needs the denort runtime of each target: a download from dl.deno.land or a
    // local DENORT_BIN. Try the first target; if that fails, say why once and skip them all.
    let denoSkipped: string | undefined;
    for (const platform of RELEASE_PLATFORMS) {
      if (denoSkipped) break;
      const out = join(dist, binaryFile(platform, "deno"));
      const r = await run(deno, [
        "compile",
        "-A",
        "--no-check",
        "--unstable-no-legacy-abort",
        `--target=${TARGETS[platform].deno}`,
        "--output",
        out,
        entry,
      ]);
      if (r.code !== 0) {
        if (platform === RELEASE_PLATFORMS[0] || /dl\.deno\.land|download|DENORT/i.test(r.output)) {
          denoSkipped = lastLine(r.output);
        } else {
          failed = true;
          log(`Cannot build "${out}" for ${TARGETS[platform].deno}: ${lastLine(r.output)}`);
        }
      } else log(`built ${out} (deno, not run here)`);
    }
    if (denoSkipped) {
      for (const platform of RELEASE_PLATFORMS) {
        await rm(join(dist, binaryFile(platform, "deno")), { force: true });
      }
      log(
        `Skipped the deno compile binaries: Deno could not get its runtime (set DENORT_BIN or allow dl.deno.land): ${denoSkipped}`,
      );
    }

    if (!await packageOrSay(dist)) failed = true;
  }
} finally {
  await rm(entryDir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

function bunFlags(): string[] {
  // --bytecode: precompiled, `qwen --version` starts in half the time (no parse of the bundle).
  return ["build", "--compile", "--minify", "--sourcemap=none", "--bytecode"];
}

/**
 * The entry both compilers build: a module that records the commit in a global, imported
 * before src/main.ts so it has run when main does.
 */
async function writeEntry(dir: string): Promise<string> {
  const checkout = await readCheckout(ROOT);
  await writeFile(
    join(dir, "stamp.ts"),
    `(globalThis as Record<string, unknown>)[${JSON.stringify(BUILD_GLOBAL)}] = ${
      JSON.stringify({ checkout: checkout ?? null })
    };\n`,
  );
  const main = relative(dir, join(ROOT, "src", "main.ts")).replaceAll("\\", "/");
  await writeFile(join(dir, "main.ts"), `import "./stamp.ts";\nimport "${main}";\n`);
  log(
    `building from ${
      checkout
        ? `commit ${checkout.commit}${checkout.modified ? " with uncommitted changes" : ""}`
        : "no git checkout"
    }`,
  );
  return join(dir, "main.ts");
}

/** Packages `dir` (files.ts); false, with the reason said, when it cannot. */
async function packageOrSay(dir: string): Promise<boolean> {
  try {
    await packageRelease({
      dir,
      version: VERSION,
      installScript: join(ROOT, "scripts", "install.sh"),
      releasesUrl: RELEASES_URL,
      log,
    });
    return true;
  } catch (error) {
    log((error as Error).message);
    return false;
  }
}

function run(cmd: string, args: string[]) {
  return new Promise<{ code: number; output: string }>((resolve) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c) => (output += c));
    child.stderr.on("data", (c) => (output += c));
    child.on("error", (error) => resolve({ code: 127, output: String(error) }));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

/** The most telling line of a failed tool's output: its root cause, else its error line. */
function lastLine(text: string): string {
  const lines = text
    // deno-lint-ignore no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, "")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^\d+: <unknown>$|^Stack backtrace:$/.test(l));
  const cause = lines.find((l) => /error sending request|dns error/i.test(l));
  return (cause ?? lines.find((l) => /^error/i.test(l)) ?? lines.at(-1) ?? "unknown error")
    .replace(/^\d+: /, "");
}
