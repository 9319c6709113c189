/**
 * A coding agent's binary run headless by the end-to-end tests: output gathered, SIGTERM then
 * SIGKILL past the time limit, and whatever it left running killed at the end. Agents run their
 * tools' shells in process groups or sessions of their own, which outlive them; they are found by
 * the temporary HOME they inherited (Linux's /proc; elsewhere nothing is found).
 */
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import process from "node:process";

export interface AgentRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  durationMs: number;
}

export async function runAgent(
  label: string,
  binary: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  timeoutMs = 90_000,
): Promise<AgentRun> {
  const started = performance.now();
  const child = spawn(binary, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  let timedOut = false;
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    // A chance to end its tools itself (a launcher passes SIGTERM on; SIGKILL would orphan what
    // it started), then no more.
    child.kill("SIGTERM");
    killTimer = setTimeout(() => {
      child.kill("SIGKILL");
      void killLeftovers(env.HOME);
    }, 2_000);
  }, timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on(
        "error",
        (error) => reject(new Error(`Cannot run ${label} "${binary}": ${error.message}`)),
      );
      child.on("close", (code) => resolve(code));
    });
    if (timedOut) {
      throw new Error(
        `${label} did not finish within ${timeoutMs} ms; stdout: ${stdout.slice(-2000)}` +
          `; stderr: ${stderr.slice(-2000)}`,
      );
    }
    return { code, stdout, stderr, durationMs: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
    clearTimeout(killTimer);
    await killLeftovers(env.HOME);
  }
}

/** Kills every process whose environment holds this HOME. */
async function killLeftovers(home: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir("/proc");
  } catch {
    return;
  }
  const marker = `\0HOME=${home}\0`;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let environ: string;
    try {
      environ = await readFile(`/proc/${entry}/environ`, "latin1");
    } catch {
      continue; // gone, or not ours
    }
    if (!`\0${environ}`.includes(marker)) continue;
    try {
      process.kill(Number(entry), "SIGKILL");
    } catch {
      // It exited meanwhile.
    }
  }
}
