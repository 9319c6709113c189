/**
 * The real Codex CLI (the dev dependency) run headless against a Responses API on loopback: a
 * temporary HOME and CODEX_HOME whose config.toml names that server as the model provider and turns
 * off Codex's own traffic (plugin sync from GitHub, metrics to OpenAI), an environment built from
 * nothing, and a proxy on loopback that catches whatever it would still send elsewhere
 * (docs/clients.md#codex-01690-as-measured).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runAgent } from "./agent-process.ts";

export const CODEX_BINARY = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../node_modules/.bin/codex",
);

/** The variable config.toml names as the provider's `env_key`; Codex sends it as a bearer token. */
const KEY_VARIABLE = "QWEN_API_KEY";

export interface CodexOptions {
  /** The provider's `base_url`: `http://127.0.0.1:PORT/v1`. Loopback only. */
  baseUrl: string;
  /** The prompt of `codex exec`. */
  prompt: string;
  /** Sent as `Authorization: Bearer KEY`. */
  apiKey: string;
  /** The `model` of config.toml; default `qwen3-coder-plus`. */
  model?: string;
  /** More flags of `codex exec`, placed before the prompt. */
  args?: string[];
  /** Its working folder, where its tools act (default: a folder inside the temporary HOME). */
  cwd?: string;
  /** More variables; they cannot replace HOME, CODEX_HOME, the key or the proxy settings. */
  env?: Record<string, string>;
  /** Killed (with everything it started) after this long; default 90 s. */
  timeoutMs?: number;
}

export interface CodexResult {
  code: number | null;
  /** The final answer of the agent. */
  stdout: string;
  /** The transcript: settings, commands run, errors. */
  stderr: string;
  /** From spawn to exit. */
  durationMs: number;
  /** What Codex tried to reach other than loopback (`CONNECT host:443`, …), refused by the proxy. */
  strayRequests: string[];
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * Runs `codex exec … PROMPT` and resolves with its exit; rejects after killing it when it outlives
 * `timeoutMs`. Its HOME and CODEX_HOME are removed either way, and no process it started is left.
 */
export async function runCodex(options: CodexOptions): Promise<CodexResult> {
  const target = new URL(options.baseUrl);
  if (!LOOPBACK.has(target.hostname)) {
    throw new Error(`Cannot run Codex against "${options.baseUrl}": loopback only`);
  }
  const home = await mkdtemp(join(tmpdir(), "qwen-codex-"));
  const proxy = await startRefusingProxy();
  try {
    const codexHome = join(home, ".codex");
    const cwd = options.cwd ?? join(home, "work");
    await mkdir(codexHome);
    await mkdir(cwd, { recursive: true });
    await writeFile(
      join(codexHome, "config.toml"),
      configToml(options.baseUrl, options.model ?? "qwen3-coder-plus"),
    );
    const proxyUrl = `http://127.0.0.1:${proxy.port}`;
    const noProxy = "127.0.0.1,localhost,::1";
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      TERM: "dumb",
      ...options.env,
      HOME: home,
      CODEX_HOME: codexHome,
      [KEY_VARIABLE]: options.apiKey,
      // Its HTTP client and the git it runs both honour these; the provider stays direct.
      HTTPS_PROXY: proxyUrl,
      https_proxy: proxyUrl,
      HTTP_PROXY: proxyUrl,
      http_proxy: proxyUrl,
      ALL_PROXY: proxyUrl,
      all_proxy: proxyUrl,
      NO_PROXY: noProxy,
      no_proxy: noProxy,
    };
    const args = [
      "exec",
      "--skip-git-repo-check",
      "--dangerously-bypass-approvals-and-sandbox",
      // Fails the run when a key of config.toml is unknown, rather than silently ignoring the
      // switches that keep it on loopback.
      "--strict-config",
      ...(options.args ?? []),
      "--",
      options.prompt,
    ];
    const result = await runAgent("Codex", CODEX_BINARY, args, env, cwd, options.timeoutMs);
    return { ...result, strayRequests: [...proxy.requests] };
  } finally {
    await proxy.close();
    await rm(home, { recursive: true, force: true });
  }
}

function configToml(baseUrl: string, model: string): string {
  return [
    `model_provider = "qwen"`,
    `model = ${JSON.stringify(model)}`,
    "",
    // Without these two it exports metrics to OpenAI (and waits 5 s for that at exit) and syncs
    // its plugin catalogue from GitHub.
    "[analytics]",
    "enabled = false",
    "",
    "[features]",
    "plugins = false",
    "",
    "[model_providers.qwen]",
    `name = "qwen serve"`,
    `base_url = ${JSON.stringify(baseUrl)}`,
    `env_key = "${KEY_VARIABLE}"`,
    `wire_api = "responses"`,
    "",
  ].join("\n");
}

interface RefusingProxy {
  port: number;
  /** The first line of each request it refused. */
  requests: string[];
  close(): Promise<void>;
}

/** An HTTP proxy on loopback that answers 403 to everything and notes what was asked. */
async function startRefusingProxy(): Promise<RefusingProxy> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let head = "";
    socket.setEncoding("latin1").on("data", (chunk: string) => {
      if (head.includes("\r\n")) return;
      head += chunk;
      const end = head.indexOf("\r\n");
      if (end < 0) return;
      requests.push(head.slice(0, end).replace(/ HTTP\/[\d.]+$/, ""));
      socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") {
    server.close();
    throw new Error("Cannot start the proxy for Codex: no port");
  }
  return {
    port: address.port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
