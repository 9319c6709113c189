/**
 * The smoke test of a compiled binary, as the release workflow runs it on a runner of the
 * binary's own OS before publishing it, and `npm test` on this machine's: `--version` prints the
 * version, `version --verbose` names the runtime and the repository, and `serve` answers
 * `/health` on loopback with a throwaway QWEN_HOME and one account from a key variable (200).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { REPOSITORY_URL } from "../../src/lib/release.ts";

/** How long the binary gets to start serving, and to stop. */
const TIMEOUT_MS = 30_000;

/** What is wrong with the binary; empty when it passed. */
export async function smokeTest(binary: string, version: string): Promise<string[]> {
  const home = await mkdtemp(join(tmpdir(), "qwen-smoke-"));
  // The runner's own variables (Windows needs SystemRoot and the like), but no credentials
  // nor serve settings of whoever runs it, and every home in the throwaway folder.
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(QWEN_|BAILIAN_|DASHSCOPE_|OPENROUTER_|PORT$)/.test(name)) {
      env[name] = value;
    }
  }
  Object.assign(env, { QWEN_HOME: home, HOME: home, USERPROFILE: home, NO_COLOR: "1" });
  const problems: string[] = [];
  try {
    const bare = await run(binary, ["--version"], env);
    if (bare.code !== 0 || bare.stdout !== `${version}\n`) {
      problems.push(
        `"--version" printed ${JSON.stringify(bare.stdout)} (exit ${bare.code}${
          bare.stderr ? `, stderr ${JSON.stringify(bare.stderr.trim())}` : ""
        }), expected "${version}"`,
      );
    }
    const verbose = await run(binary, ["version", "--verbose"], env);
    const lines = verbose.stdout.split("\n");
    for (
      const [key, pattern] of [
        ["version", new RegExp(`^version +${version.replaceAll(".", "\\.")}$`)],
        ["runtime", /^runtime +(bun|deno) \d+\.\d+\.\d+/],
        ["repository", new RegExp(`^repository +${REPOSITORY_URL.replaceAll(".", "\\.")}$`)],
        ["commit", /^commit +\S/],
      ] as const
    ) {
      if (!lines.some((line) => pattern.test(line))) {
        problems.push(
          `"version --verbose" has no ${key} line: ${
            JSON.stringify(verbose.stdout || verbose.stderr)
          }`,
        );
      }
    }
    const health = await serveHealth(binary, {
      ...env,
      // A key that is never sent anywhere: /health answers from the pool alone.
      DASHSCOPE_API_KEY: "sk-smoke-test-key-never-sent",
      DASHSCOPE_BASE_URL: "http://127.0.0.1:9/v1",
    });
    if (health) problems.push(health);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
  return problems;
}

/** Starts `serve` on a free loopback port, asks /health, stops it; a problem or undefined. */
function serveHealth(binary: string, env: Record<string, string>): Promise<string | undefined> {
  const child = spawn(binary, ["serve", "--host", "127.0.0.1", "--port", "0"], {
    env,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  return new Promise((resolve) => {
    let asked = false;
    const timer = setTimeout(
      () => finish(`"serve" did not answer within ${TIMEOUT_MS} ms`),
      TIMEOUT_MS,
    );
    const finish = (problem: string | undefined) => {
      clearTimeout(timer);
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        child.once("exit", (code) => {
          // SIGTERM drains and exits 0 where there are signals; Windows has only kill.
          const clean = process.platform === "win32" || code === 0;
          resolve(problem ?? (clean ? undefined : `"serve" exited ${code} on SIGTERM`));
        });
        // process.kill, not child.kill: under Deno the latter reports a SIGTERM exit as killed.
        if (process.platform === "win32") child.kill();
        else process.kill(child.pid!, "SIGTERM");
      } else resolve(problem);
    };
    child.on("error", (error) => finish(`Cannot run "${binary}": ${error.message}`));
    child.on("exit", (code) => {
      if (!asked) finish(`"serve" exited ${code} before listening: ${stderr.trim()}`);
    });
    child.stderr.on("data", async (chunk) => {
      stderr += chunk;
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
      if (!url || asked) return;
      asked = true;
      try {
        const response = await fetch(`${url}/health`);
        const body = await response.text();
        finish(
          response.status === 200 && JSON.parse(body).status === "ok"
            ? undefined
            : `"/health" answered ${response.status} ${body}`,
        );
      } catch (error) {
        finish(`Cannot ask "${url}/health": ${(error as Error).message}`);
      }
    });
  });
}

function run(cmd: string, args: string[], env: Record<string, string>) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", (error) => resolve({ code: 127, stdout, stderr: String(error) }));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
