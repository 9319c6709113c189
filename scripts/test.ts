/**
 * `npm test`: every check and both test runners, then the host binary and its smoke test.
 * Ends with one line `N passed, N failed` (the sums of what bun test and deno test report)
 * and exits non-zero when any step failed.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { hostBinary } from "./release/files.ts";
import { smokeTest } from "./release/smoke.ts";

const bin = (name: string) => join("node_modules", ".bin", name);
const deno = bin("deno");
const bun = bin("bun");

interface StepResult {
  code: number;
  /** stdout and stderr interleaved, as shown. */
  output: string;
  stdout: string;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<StepResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    let output = "";
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      stdout += chunk.toString();
      process.stdout.write(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on("error", (error) => resolve({ code: 127, output: String(error), stdout }));
    child.on("close", (code) => resolve({ code: code ?? 1, output, stdout }));
  });
}

const failures: string[] = [];
let passed = 0;
let failed = 0;

async function step(name: string, cmd: string, args: string[], env?: Record<string, string>) {
  process.stdout.write(`\n== ${name}: ${cmd} ${args.join(" ")}\n`);
  const result = await run(cmd, args, env);
  if (result.code !== 0) failures.push(`${name} (exit ${result.code})`);
  return result;
}

// deno-lint-ignore no-control-regex
const plain = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

await step("format", deno, ["fmt", "--check"]);
await step("lint", deno, ["lint"]);
await step("type check", deno, ["check", "src", "tests", "scripts"]);
await step("unused exports", bun, ["scripts/unused-exports.ts"]);

// The binary is built before the tests so that tests/cli/binary.test.ts runs the same file the
// smoke test below checks.
const build = await step("build host binary", bun, ["scripts/build.ts", "--host"]);
const exe = hostBinary("dist");
const testEnv = build.code === 0 ? { QWEN_TEST_BINARY: exe } : undefined;

const bunTests = await step("bun test", bun, ["test", "tests/"], testEnv);
{
  const text = plain(bunTests.output);
  const pass = /^\s*(\d+) pass$/m.exec(text);
  const fail = /^\s*(\d+) fail$/m.exec(text);
  if (!pass) failures.push("bun test (no summary found)");
  passed += Number(pass?.[1] ?? 0);
  failed += Number(fail?.[1] ?? 0);
}

const denoTests = await step("deno test", deno, ["test", "-A", "tests/"], testEnv);
{
  // Deno runs each describe() as one test whose it()s are steps; every test file here wraps
  // its tests in describe(), so the step counts are the ones comparable with bun's.
  const text = plain(denoTests.output);
  const summary =
    /^(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/m
      .exec(text);
  if (!summary) failures.push("deno test (no summary found)");
  else {
    passed += Number(summary[2] ?? summary[1]);
    failed += Number(summary[4] ?? summary[3]);
  }
}

if (build.code === 0) {
  // The release's smoke test (scripts/release/smoke.ts), as each binary gets it before it is
  // published, then one more check of our own.
  process.stdout.write(`\n== smoke: ${exe} (--version, version --verbose, serve and /health)\n`);
  const version = JSON.parse(await readFile("package.json", "utf8")).version;
  for (const problem of await smokeTest(exe, version)) failures.push(`smoke: ${problem}`);
  const home = await mkdtemp(join(tmpdir(), "qwen-smoke-"));
  try {
    const s = await run(exe, ["status", "--json"], { QWEN_HOME: home });
    process.stdout.write(`\n== smoke: status --json on an empty QWEN_HOME → exit ${s.code}\n`);
    let json: { usable?: unknown } | undefined;
    try {
      json = JSON.parse(s.stdout);
    } catch { /* reported below */ }
    if (s.code !== 3 || json?.usable !== false) {
      failures.push(
        `smoke: status --json exited ${s.code} (expected 3) with ${
          JSON.stringify(s.output.slice(0, 200))
        }`,
      );
    }
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

process.stdout.write("\n");
if (failures.length) process.stdout.write(`Failed steps: ${failures.join("; ")}\n`);
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exit(failures.length || failed ? 1 : 0);
