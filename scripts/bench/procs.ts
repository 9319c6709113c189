/**
 * Child processes of the benchmark: each one is registered when spawned and killed at the end,
 * also when the run fails or is interrupted (Ctrl+C, SIGTERM).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import process from "node:process";

const children = new Set<ChildProcess>();
/** Servers that exited before we stopped them, with how they ended. */
const deaths: string[] = [];

/** What went wrong with the servers so far (an exit nobody asked for), for error messages. */
export function unexpectedExits(): string[] {
  return [...deaths];
}

export interface Started {
  child: ChildProcess;
  pid: number;
  /** The `listening on URL` origin the server printed. */
  url: string;
  log: string;
}

export interface SpawnOptions {
  env: Record<string, string | undefined>;
  /** Where stdout and stderr go (a file: the driver does not spend CPU reading them). */
  log: string;
}

/** Spawns a server and waits for a `listening on http://…` line (or a bare URL) in its output. */
export async function startServerProcess(
  name: string,
  command: string,
  args: string[],
  options: SpawnOptions,
  timeoutMs = 30_000,
): Promise<Started> {
  const fd = openSync(options.log, "w");
  const child = spawn(command, args, { stdio: ["ignore", fd, fd], env: options.env });
  closeSync(fd);
  children.add(child);
  let exited: string | undefined;
  child.on("exit", (code, signal) => {
    children.delete(child);
    exited = `exited with ${signal ?? code}`;
    if (!stopped.has(child)) {
      const tail = readFileSync(options.log, "utf8").slice(-1500);
      deaths.push(`${name} (pid ${child.pid}) ${exited}; the end of ${options.log}:\n${tail}`);
    }
  });
  child.on("error", (error) => (exited = String(error)));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const text = readFileSync(options.log, "utf8");
    const match = /(?:listening on )?(http:\/\/127\.0\.0\.1:\d+)/.exec(text);
    if (match && child.pid !== undefined) {
      return { child, pid: child.pid, url: match[1], log: options.log };
    }
    if (exited) break;
    await sleep(25);
  }
  const output = readFileSync(options.log, "utf8").slice(-2000);
  await stop(child);
  throw new Error(
    `Cannot start ${name} (${command} ${args.join(" ")}): ${exited ?? "no URL in time"}\n${output}`,
  );
}

/** Runs a command to its end, registered so an interruption kills it too. */
export function run(
  command: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env });
    children.add(child);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (c) => (stdout += c));
    child.stderr!.on("data", (c) => (stderr += c));
    child.on("error", (error) => {
      children.delete(child);
      resolve({ code: 127, stdout, stderr: String(error) });
    });
    child.on("close", (code) => {
      children.delete(child);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/** SIGTERM, then SIGKILL if it is still there after `graceMs`. */
const stopped = new WeakSet<ChildProcess>();

export async function stop(child: ChildProcess, graceMs = 1_000): Promise<void> {
  stopped.add(child);
  if (child.exitCode !== null || child.signalCode !== null) {
    children.delete(child);
    return;
  }
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
  children.delete(child);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((child) => stop(child)));
}

/** Kills every child on exit, error and signals; `onSignal` runs first (e.g. a message). */
export function killChildrenOnExit(): void {
  process.on("exit", () => {
    for (const child of children) child.kill("SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n${signal}: stopping the benchmark's processes\n`);
      stopAll().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    });
  }
}

/** Resident memory of a process in MiB (VmRSS from /proc/PID/status). */
export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error(`No VmRSS for process ${pid}`);
  return Number(kb) / 1024;
}

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 nearly everywhere). */
let ticksPerSecond: number | undefined;

/**
 * CPU time (user + system, seconds) a process has used so far, all its threads included: the
 * JIT, the garbage collector's helpers and the runtime's I/O threads count as the request path's.
 */
export function cpuSeconds(pid: number): number {
  ticksPerSecond ??= Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout) || 100;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; the fields after it are plain numbers.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
