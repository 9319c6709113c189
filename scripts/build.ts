/**
 * `npm run build`: standalone binaries into dist/ with a SHA256SUMS file.
 *   bun build --compile for linux-x64, linux-arm64, darwin-x64, darwin-arm64, windows-x64
 *   (dist/qwen is the host's), and deno compile for the same targets when Deno can get its
 *   runtime (a download, or DENORT_BIN). `--host` builds only the host's Bun binary.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";

const hostOnly = process.argv.includes("--host");
const dist = "dist";
const entry = "src/main.ts";

const targets = [
  { name: "linux-x64", bun: "bun-linux-x64", deno: "x86_64-unknown-linux-gnu", exe: "" },
  { name: "linux-arm64", bun: "bun-linux-arm64", deno: "aarch64-unknown-linux-gnu", exe: "" },
  { name: "darwin-x64", bun: "bun-darwin-x64", deno: "x86_64-apple-darwin", exe: "" },
  { name: "darwin-arm64", bun: "bun-darwin-arm64", deno: "aarch64-apple-darwin", exe: "" },
  { name: "windows-x64", bun: "bun-windows-x64", deno: "x86_64-pc-windows-msvc", exe: ".exe" },
];

function run(cmd: string, args: string[], env: Record<string, string | undefined> = {}) {
  return new Promise<{ code: number; output: string }>((resolve) => {
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let output = "";
    child.stdout.on("data", (c) => (output += c));
    child.stderr.on("data", (c) => (output += c));
    child.on("error", (error) => resolve({ code: 127, output: String(error) }));
    child.on("close", (code) => resolve({ code: code ?? 1, output }));
  });
}

const bun = join("node_modules", ".bin", "bun");
const deno = join("node_modules", ".bin", "deno");
await mkdir(dist, { recursive: true });

const hostName = `${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
const hostExe = process.platform === "win32" ? "qwen.exe" : "qwen";
let failed = false;

// The host's binary: built for the machine we are on, no cross-compile download needed.
{
  const out = join(dist, hostExe);
  const r = await run(bun, [
    "build",
    "--compile",
    "--minify",
    "--sourcemap=none",
    // Precompiled bytecode: `qwen --version` starts in half the time (no parse of the bundle).
    "--bytecode",
    entry,
    "--outfile",
    out,
  ]);
  if (r.code !== 0) {
    process.stderr.write(r.output);
    process.stderr.write(`Cannot build the host binary "${out}"\n`);
    process.exit(1);
  }
  process.stderr.write(`built ${out} (bun, ${hostName})\n`);
}

if (!hostOnly) {
  for (const t of targets) {
    const out = join(dist, `qwen-bun-${t.name}${t.exe}`);
    if (t.name === hostName) {
      await copyFile(join(dist, hostExe), out);
      process.stderr.write(`built ${out} (copy of the host binary)\n`);
      continue;
    }
    const r = await run(bun, [
      "build",
      "--compile",
      "--minify",
      "--sourcemap=none",
      "--bytecode",
      `--target=${t.bun}`,
      entry,
      "--outfile",
      out,
    ]);
    if (r.code !== 0) {
      failed = true;
      process.stderr.write(`Cannot build "${out}" for ${t.bun}: ${lastLine(r.output)}\n`);
    } else process.stderr.write(`built ${out} (bun, not run here)\n`);
  }

  // deno compile needs the denort runtime for each target: a download from dl.deno.land or a
  // local DENORT_BIN. Try the host target first; if that fails, say why once and skip them all.
  let denoSkipped: string | undefined;
  for (const t of targets) {
    if (denoSkipped) break;
    const out = join(dist, `qwen-deno-${t.name}${t.exe}`);
    const args = [
      "compile",
      "-A",
      "--no-check",
      "--unstable-no-legacy-abort",
      `--target=${t.deno}`,
      "--output",
      out,
      entry,
    ];
    const r = await run(deno, args);
    if (r.code !== 0) {
      if (t === targets[0] || /dl\.deno\.land|download|DENORT/i.test(r.output)) {
        denoSkipped = lastLine(r.output);
      } else {
        failed = true;
        process.stderr.write(`Cannot build "${out}" for ${t.deno}: ${lastLine(r.output)}\n`);
      }
    } else process.stderr.write(`built ${out} (deno, not run here)\n`);
  }
  if (denoSkipped) {
    process.stderr.write(
      `Skipped the deno compile binaries: Deno could not get its runtime (set DENORT_BIN or allow dl.deno.land): ${denoSkipped}\n`,
    );
  }
}

// SHA256SUMS over every binary in dist/.
const files = (await readdir(dist)).filter((f) => f.startsWith("qwen")).sort();
const lines = [];
for (const f of files) {
  const hash = createHash("sha256").update(await readFile(join(dist, f))).digest("hex");
  lines.push(`${hash}  ${f}`);
}
await writeFile(join(dist, "SHA256SUMS"), lines.join("\n") + "\n");
process.stderr.write(`wrote ${join(dist, "SHA256SUMS")} (${files.length} files)\n`);
process.exit(failed ? 1 : 0);

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
