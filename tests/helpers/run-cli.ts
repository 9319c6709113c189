/**
 * Spawns the real entrypoint (`src/main.ts`) on the runtime running the tests, or a compiled
 * binary, with a clean environment: only what the test passes plus PATH and a temporary HOME,
 * so nothing reaches the real ~/.qwen.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";

export const MAIN = resolve("src/main.ts");

/** The command that runs `src/main.ts` on the current runtime. */
export function entrypointCommand(): string[] {
  const exe = process.execPath;
  return "Deno" in globalThis ? [exe, "run", "-A", "--quiet", MAIN] : [exe, MAIN];
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  stdin?: string;
  /** Run this executable instead of src/main.ts (e.g. dist/qwen). */
  binary?: string;
  timeoutMs?: number;
  /** Start it under `ulimit -n` of this many file descriptors (through `sh`). */
  fileLimit?: number;
}

export function spawnCli(args: string[], options: RunOptions = {}): ChildProcess {
  let [cmd, ...pre] = options.binary ? [options.binary] : entrypointCommand();
  if (options.fileLimit !== undefined) {
    // exec: the child is the program itself, so signals and its exit are its own.
    pre = ["-c", `ulimit -n ${options.fileLimit} && exec "$@"`, "sh", cmd, ...pre];
    cmd = "sh";
  }
  return spawn(cmd, [...pre, ...args], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.QWEN_TEST_HOME ?? tmpdir(),
      NO_BROWSER: "1",
      ...options.env,
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
}

export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, options);
  return collect(child, options);
}

export function collect(
  child: ChildProcess,
  options: Pick<RunOptions, "stdin" | "timeoutMs"> = {},
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c) => (stdout += c));
    child.stderr!.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`CLI timed out after ${options.timeoutMs ?? 30_000} ms; stderr: ${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
    if (options.stdin !== undefined) child.stdin!.end(options.stdin);
    else child.stdin!.end();
  });
}

/** A fresh QWEN_HOME; remove it with the returned function. */
export async function tempHome(): Promise<{ home: string; cleanup: () => Promise<void> }> {
  const home = await mkdtemp(join(tmpdir(), "qwen-test-"));
  return { home, cleanup: () => rm(home, { recursive: true, force: true }) };
}
