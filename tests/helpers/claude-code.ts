/**
 * The real Claude Code (the dev dependency's native binary) run headless against a server on
 * loopback: a temporary HOME that says onboarding is done, an environment built from nothing (so no
 * proxy or other `ANTHROPIC_*` variable of the host leaks in) and the switches that stop its own
 * traffic to Anthropic (docs/clients.md#claude-code-21328-as-measured).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runAgent } from "./agent-process.ts";

export const CLAUDE_CODE_BINARY = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../node_modules/.bin/claude",
);

export interface ClaudeCodeOptions {
  /** Where it sends the Messages API: `http://127.0.0.1:PORT`, without `/v1`. Loopback only. */
  baseUrl: string;
  /** The `-p` prompt. */
  prompt: string;
  /** Sent as `x-api-key` (`ANTHROPIC_API_KEY`), or as a bearer token with `authToken: true`. */
  apiKey: string;
  /** Send the key as `Authorization: Bearer` (`ANTHROPIC_AUTH_TOKEN`) instead. */
  authToken?: boolean;
  /** More flags after `-p PROMPT`, e.g. `["--allowedTools", "Bash"]`. */
  args?: string[];
  /** Its working folder, where its tools act (default: a folder inside the temporary HOME). */
  cwd?: string;
  /** More variables, e.g. `ANTHROPIC_MODEL`; they cannot replace the base URL or the key. */
  env?: Record<string, string>;
  /** Killed (with everything it started) after this long; default 90 s. */
  timeoutMs?: number;
}

export interface ClaudeCodeResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  durationMs: number;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Runs `claude -p PROMPT …` and resolves with its exit; rejects after killing it when it outlives
 * `timeoutMs`. Its HOME (and temporary files) are removed either way.
 */
export async function runClaudeCode(options: ClaudeCodeOptions): Promise<ClaudeCodeResult> {
  const target = new URL(options.baseUrl);
  if (!LOOPBACK.has(target.hostname)) {
    throw new Error(`Cannot run Claude Code against "${options.baseUrl}": loopback only`);
  }
  const home = await mkdtemp(join(tmpdir(), "qwen-claude-"));
  try {
    await writeFile(join(home, ".claude.json"), JSON.stringify({ hasCompletedOnboarding: true }));
    // Its per-project scratch files go to $TMPDIR/claude-<uid>/ unless told otherwise.
    const scratch = join(home, "tmp");
    const cwd = options.cwd ?? join(home, "work");
    await mkdir(scratch);
    await mkdir(cwd, { recursive: true });
    const keyVariable = options.authToken ? "ANTHROPIC_AUTH_TOKEN" : "ANTHROPIC_API_KEY";
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      TERM: "dumb",
      ...options.env,
      HOME: home,
      TMPDIR: scratch,
      CLAUDE_CODE_TMPDIR: scratch,
      ANTHROPIC_BASE_URL: options.baseUrl,
      [keyVariable]: options.apiKey,
      // Without it, it resolves and calls Anthropic's hosts (telemetry, error reports, …).
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_AUTOUPDATER: "1",
    };
    return await runAgent(
      "Claude Code",
      CLAUDE_CODE_BINARY,
      ["-p", options.prompt, ...(options.args ?? [])],
      env,
      cwd,
      options.timeoutMs,
    );
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
