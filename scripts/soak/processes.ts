/**
 * The soak's child processes: the `qwen serve` processes (from source, on Bun or Deno) and the
 * `qwen auth` runs. Every child is registered when spawned and killed when the soak ends, fails
 * or is interrupted. A server that exits without being told to is written down: nothing a
 * client or an upstream does may take it down.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

const ROOT = join(import.meta.dirname ?? ".", "..", "..");
const MAIN = join(ROOT, "src/main.ts");
const BUN = existsSync(join(ROOT, "node_modules/.bin/bun"))
  ? join(ROOT, "node_modules/.bin/bun")
  : process.execPath;
const DENO = join(ROOT, "node_modules/.bin/deno");

export type RuntimeName = "bun" | "deno";

const children = new Set<ChildProcess>();

function qwenCommand(runtime: RuntimeName, args: string[]): [string, string[]] {
  return runtime === "bun"
    ? [BUN, [MAIN, ...args]]
    : [DENO, ["run", "-A", "--quiet", MAIN, ...args]];
}

export function denoAvailable(): boolean {
  return existsSync(DENO);
}

/** Runs `qwen ARGS` to its end, stdin given, output collected. */
export function runQwen(
  runtime: RuntimeName,
  args: string[],
  env: Record<string, string>,
  stdin: string,
  timeoutMs = 30_000,
): Promise<{ code: number | null; stderr: string }> {
  const [command, argv] = qwenCommand(runtime, args);
  return new Promise((resolve) => {
    const child = spawn(command, argv, { env, stdio: ["pipe", "ignore", "pipe"] });
    children.add(child);
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code: 127, stderr: String(error) });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stderr });
    });
    child.stdin!.end(stdin);
  });
}

/** One `qwen serve` slot: a port, a runtime, and the process serving it now. */
export class ServeSlot {
  child?: ChildProcess;
  pid?: number;
  url?: string;
  /** Resident memory (MiB) of the first process once started, and of the last at the end. */
  rssStart?: number;
  rssEnd?: number;
  restarts = 0;
  /** Exits nobody asked for, with the end of the log. */
  readonly deaths: string[] = [];
  /** The exit of the last process when it was stopped with SIGTERM. */
  stopExit?: string;
  #port = 0;
  #incarnation = 0;
  readonly #meant = new WeakSet<ChildProcess>();

  constructor(
    readonly name: string,
    readonly runtime: RuntimeName,
    readonly args: string[],
    readonly env: Record<string, string>,
    readonly logDir: string,
  ) {}

  get log(): string {
    return join(this.logDir, `${this.name}-${this.#incarnation}.log`);
  }

  /** Starts a process on the slot's port (a free one the first time) and waits for its URL. */
  async start(timeoutMs = 30_000): Promise<void> {
    this.#incarnation++;
    const log = this.log;
    const fd = openSync(log, "w");
    const [command, argv] = qwenCommand(this.runtime, [
      "serve",
      "--port",
      String(this.#port),
      ...this.args,
    ]);
    const child = spawn(command, argv, { env: this.env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    children.add(child);
    let exited: string | undefined;
    child.on("exit", (code, signal) => {
      children.delete(child);
      exited = `exited with ${signal ?? code}`;
      if (!this.#meant.has(child)) {
        const tail = readFileSync(log, "utf8").slice(-1500);
        this.deaths.push(`${this.name} (pid ${child.pid}) ${exited}; the end of ${log}:\n${tail}`);
      }
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const match = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(readFileSync(log, "utf8"));
      if (match && child.pid !== undefined) {
        this.child = child;
        this.pid = child.pid;
        this.url = match[1];
        this.#port = Number(match[2]);
        return;
      }
      if (exited) break;
      await sleep(25);
    }
    this.#meant.add(child);
    child.kill("SIGKILL");
    throw new Error(
      `Cannot start ${this.name} (${command} ${argv.join(" ")}): ${exited ?? "no URL in time"}\n` +
        readFileSync(log, "utf8").slice(-2000),
    );
  }

  /** The next start takes any free port (when the old one could not be had again). */
  forgetPort(): void {
    this.#port = 0;
  }

  /** kill -9, and wait until it is gone. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.#meant.add(child);
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    await gone;
    this.child = undefined;
    this.url = undefined;
  }

  /** SIGTERM (the drain), SIGKILL after `graceMs`; the exit is kept in `stopExit`. */
  async stop(graceMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.#meant.add(child);
    if (child.exitCode !== null || child.signalCode !== null) {
      this.stopExit = `had already exited with ${child.signalCode ?? child.exitCode}`;
      return;
    }
    const gone = new Promise<string>((resolve) =>
      child.once("exit", (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`))
    );
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    this.stopExit = await gone;
    clearTimeout(timer);
  }

  rss(): number | undefined {
    return this.pid === undefined || this.child === undefined ? undefined : rssMiB(this.pid);
  }
}

/** Kills every child on exit and on Ctrl+C/SIGTERM; `onSignal` cleans up first. */
export function killChildrenOnExit(onSignal: () => Promise<void>): void {
  process.on("exit", () => {
    for (const child of children) child.kill("SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping the soak's processes\n`);
      for (const child of children) child.kill("SIGKILL");
      onSignal().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    });
  }
}

export function killAll(): void {
  for (const child of children) child.kill("SIGKILL");
}

/** Resident memory of a process in MiB (VmRSS from /proc/PID/status). */
function rssMiB(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
