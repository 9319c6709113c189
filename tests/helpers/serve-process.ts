/** `qwen serve` as a child process: start it on port 0, read its URL, stop it. */
import type { ChildProcess } from "node:child_process";
import process from "node:process";
import { type RunOptions, spawnCli } from "./run-cli.ts";

export interface RunningServe {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `qwen serve --port 0 …` and waits for its `listening on` line. */
export function startServe(
  args: string[],
  env: Record<string, string>,
  options: Pick<RunOptions, "binary" | "fileLimit"> = {},
): Promise<RunningServe> {
  const child = spawnCli(["serve", "--port", "0", ...args], { env, ...options });
  let stderr = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve) => child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`qwen serve did not start; stderr: ${stderr}`));
    }, 15_000);
    child.stderr!.on("data", (chunk) => {
      stderr += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1], stderr: () => stderr, exited });
      }
    });
    child.stdout!.resume();
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`qwen serve exited early; stderr: ${stderr}`));
    });
  });
}

export type ServeExit = Awaited<RunningServe["exited"]>;

/**
 * Stops a serve process that is still running (SIGKILL unless told otherwise) and waits for it;
 * its exit, or undefined when there was no process.
 */
export async function stopServe(
  running: RunningServe | undefined,
  signal: NodeJS.Signals = "SIGKILL",
): Promise<ServeExit | undefined> {
  if (!running) return undefined;
  if (running.child.exitCode === null && running.child.signalCode === null) {
    // process.kill rather than child.kill: under Deno the latter reports a SIGTERM exit as killed.
    process.kill(running.child.pid!, signal);
  }
  return await running.exited;
}
