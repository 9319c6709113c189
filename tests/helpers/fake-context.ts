/**
 * Commands in process: a `Context` with a temporary QWEN_HOME, captured stdout and stderr, piped
 * stdin text and injectable time, and `runInProcess`, which runs `qwen ARGV` through `runCli` as
 * the entrypoint would, minus the process.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { runCli } from "../../src/cli/run.ts";
import { type Context, type Fetch, sleep } from "../../src/lib/context.ts";

/**
 * The QWEN_HOME of runs that are given none, for those that never reach it (help, usage errors):
 * a path in the temporary folder that nothing creates, so that nothing reaches the real ~/.qwen.
 */
const UNUSED_HOME = join(tmpdir(), "qwen-test-unused-home");

export interface FakeContextOptions {
  /** QWEN_HOME: a temporary folder of the caller's (it need not exist); default UNUSED_HOME. */
  home?: string;
  /** More variables, on top of QWEN_HOME, HOME and NO_BROWSER=1 (as `spawnCli` sets them). */
  env?: Record<string, string | undefined>;
  /** What `readStdin` gives (default "": an empty pipe); ignored when stdin is a terminal. */
  stdin?: string;
  stdinIsTTY?: boolean;
  stderrIsTTY?: boolean;
  fetch?: Fetch;
  now?: () => number;
  sleep?: Context["sleep"];
  /** Stands for Ctrl+C; default: a signal only `abort()` aborts. */
  signal?: AbortSignal;
}

export interface FakeContext {
  ctx: Context;
  /** Everything written to stdout so far. */
  stdout(): string;
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Aborts the context's own signal, as Ctrl+C does (not one passed in the options). */
  abort(): void;
}

export function fakeContext(options: FakeContextOptions = {}): FakeContext {
  const out: string[] = [];
  const err: string[] = [];
  const controller = new AbortController();
  const stdinIsTTY = options.stdinIsTTY ?? false;
  const ctx: Context = {
    env: {
      HOME: process.env.QWEN_TEST_HOME ?? tmpdir(),
      NO_BROWSER: "1",
      ...options.env,
      QWEN_HOME: options.home ?? UNUSED_HOME,
    },
    stdout: (text) => void out.push(text),
    stderr: (text) => void err.push(text),
    stderrIsTTY: options.stderrIsTTY ?? false,
    stdinIsTTY,
    readStdin: () => Promise.resolve(stdinIsTTY ? undefined : options.stdin ?? ""),
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    now: options.now ?? (() => Date.now()),
    sleep: options.sleep ?? sleep,
    signal: options.signal ?? controller.signal,
  };
  return {
    ctx,
    stdout: () => out.join(""),
    stderr: () => err.join(""),
    abort: () => controller.abort(new DOMException("Cancelled", "AbortError")),
  };
}

/** What a run in process gives: as `CliResult` of a spawned run, without the signal. */
export interface InProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `qwen ARGV` in process through `runCli`, with `fakeContext(options)`. */
export async function runInProcess(
  argv: string[],
  options: FakeContextOptions = {},
): Promise<InProcessResult> {
  const { ctx, stdout, stderr } = fakeContext(options);
  const code = await runCli(argv, ctx);
  return { code, stdout: stdout(), stderr: stderr() };
}
