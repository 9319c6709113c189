/**
 * `qwen serve`: flags and environment → ServeConfig → the app on the runtime's own server, until
 * SIGTERM/SIGINT; then a graceful drain bounded by `--grace`, and a second signal exits at once.
 */
import process from "node:process";
import type { Context } from "../lib/context.ts";
import { flagCommand } from "../cli/command.ts";
import { flagsHelp, type FlagTable, HELP_FLAG } from "../cli/flags.ts";
import { DEFAULT_MODEL_MAP } from "../accounts/providers.ts";
import { type Account, loadAccounts } from "../accounts/open.ts";
import { qwenHome } from "../credentials/paths.ts";
import { AccountPool } from "../pool/pool.ts";
import { credentialsIdentity, StateStore } from "../pool/state-file.ts";
import { Metrics } from "../server/metrics.ts";
import { ExitCode, QwenError, UsageError } from "../lib/errors.ts";
import { isLoopback } from "../lib/net.ts";
import { oauthBaseUrl } from "../oauth/constants.ts";
import { AddressInUseError, runtime, type Server } from "../runtime/mod.ts";
import { createApp } from "../server/app.ts";
import { ENV_NAMES, resolveServeConfig, type ServeConfig } from "../server/config.ts";
import { bufferedWriter, createLogger } from "../server/log.ts";
import { defaultUserAgent } from "../upstream/headers.ts";

const SERVE_FLAGS = [
  { name: "host", type: "string", value: "HOST", default: "127.0.0.1", help: "Address to bind" },
  {
    name: "port",
    short: "p",
    type: "string",
    value: "PORT",
    default: "8080",
    help: "Port, 0 for any free one",
  },
  {
    name: "api-key",
    type: "string",
    multiple: true,
    value: "KEY",
    help: "Require this key from clients",
  },
  {
    name: "account",
    type: "string",
    multiple: true,
    value: "NAME",
    default: "all of them",
    help: "Only this account",
  },
  {
    name: "strategy",
    type: "string",
    value: "NAME",
    choices: ["round-robin", "fill-first"],
    default: "round-robin",
    help: "round-robin, or fill-first: the first account until it fails, then the next",
  },
  {
    name: "model-map",
    type: "string",
    multiple: true,
    value: "FROM=TO",
    help: `Send model FROM as TO (on top of ${
      Object.entries(DEFAULT_MODEL_MAP).map(([from, to]) => `${from}=${to}`).join(" and ")
    } for API keys)`,
  },
  {
    name: "allow-host",
    type: "string",
    multiple: true,
    value: "NAME",
    help: "Extra Host name accepted on loopback (reverse proxy)",
  },
  {
    name: "cors-origin",
    type: "string",
    multiple: true,
    value: "ORIGIN",
    help: "Web origin allowed to call the API (CORS)",
  },
  {
    name: "max-body",
    type: "string",
    value: "SIZE",
    default: "32MiB",
    help: "Largest request body: bytes, or a size in KB, KiB, MB, MiB, GB or GiB",
  },
  {
    name: "grace",
    type: "string",
    value: "SECONDS",
    default: "30",
    help: "Time open requests get on shutdown",
  },
  {
    name: "first-byte-timeout",
    type: "string",
    value: "SECONDS",
    default: "300",
    help: "Longest wait for the upstream's answer",
  },
  {
    name: "idle-timeout",
    type: "string",
    value: "SECONDS",
    default: "300",
    help: "Longest silence inside an answer",
  },
  { name: "verbose", type: "boolean", help: "Also log /health requests" },
  {
    name: "log-format",
    type: "string",
    choices: ["text", "json"],
    default: "text",
    help: "One line per request, as text or JSON",
  },
  HELP_FLAG,
] as const satisfies FlagTable;

export const SERVE_USAGE = `Usage: qwen serve [flags]

Runs an OpenAI-compatible API on http://127.0.0.1:8080/v1 for the accounts in QWEN_HOME (OAuth
logins and API keys from "qwen auth") and in key variables such as DASHSCOPE_API_KEY. Requests are
spread over them; an account that hits its quota, is throttled or refused is skipped before the
client sees a byte. Accounts added while serving join within seconds.

Flags:
${flagsHelp(SERVE_FLAGS)}

Environment (a flag replaces its variable; lists are comma-separated):
${Object.entries(ENV_NAMES).map(([flag, name]) => `  ${name.padEnd(31)} --${flag}`).join("\n")}
  PORT                            --port, when ${ENV_NAMES.port} is not set

Binding an address other than loopback requires at least one API key.
Endpoints: POST /v1/chat/completions, GET /v1/models, other /v1/* forwarded, GET /health,
GET /metrics (Prometheus; same API keys as /v1). Usage and cooldowns: QWEN_HOME/qwen_state.json.
`;

/** Accounts listed again, refused ones re-checked and the state file synced this often. */
const MAINTAIN_INTERVAL_MS = 2_000;

export const serveCommand = flagCommand("qwen serve", SERVE_FLAGS, SERVE_USAGE, (values, ctx) => {
  const { help: _help, ...flags } = values;
  return runServe(resolveServeConfig(flags, ctx.env), ctx);
});

export async function runServe(config: ServeConfig, ctx: Context): Promise<number> {
  if (!isLoopback(config.host) && config.apiKeys.length === 0) {
    throw new UsageError(
      `Refusing to listen on "${config.host}" without an API key: anyone who can reach it ` +
        `could use your Qwen account. Set "--api-key" (or ${ENV_NAMES["api-key"]}), or bind ` +
        `"127.0.0.1"`,
    );
  }
  const home = qwenHome(ctx.env);
  const output = bufferedWriter(ctx.stderr);
  const logger = createLogger({
    format: config.logFormat,
    verbose: config.verbose,
    write: output.write,
    secrets: config.apiKeys,
  });
  const openDeps = {
    oauthBaseUrl: oauthBaseUrl(ctx.env),
    fetch: ctx.fetch,
    now: ctx.now,
    // Refresh a few minutes early so a long request never starts on a token about to expire.
    refreshAheadMs: 5 * 60_000,
  };
  const wanted = config.accounts.length > 0 ? config.accounts : undefined;
  const first = await loadAccounts(home, ctx.env, openDeps, wanted).catch((error) => {
    throw new QwenError(`Cannot list the accounts in "${home}": ${(error as Error).message}`);
  });
  const metrics = new Metrics();
  const state = new StateStore(home, { now: ctx.now });
  let current = first.accounts;
  const pool = new AccountPool({
    strategy: config.strategy,
    now: ctx.now,
    modelMap: config.modelMap,
    state,
    metrics,
    log: (message) => logger.info(message),
    list: async () => {
      const listed = await loadAccounts(home, ctx.env, openDeps, wanted);
      // Keep the opened sources of accounts already known (their caches and refresh state).
      const known = new Map(current.map((a) => [accountKey(a), a]));
      current = listed.accounts.map((a) => known.get(accountKey(a)) ?? a);
      return current;
    },
    // Files by inode, mtime and size; environment keys by fingerprint and URL.
    identity: (entry) =>
      credentialsIdentity(
        entry,
        async () => ((await entry.source.state()) as { identity?: string }).identity,
      ),
  });
  // The first listing and the state file (cooldowns and rejections survive a restart).
  await pool.maintain().catch((error) => {
    logger.info(`cannot read the account state: ${(error as Error).message}`);
  });
  if (state.problem) logger.info(`ignoring the account state: ${state.problem}`);
  pool.start(MAINTAIN_INTERVAL_MS);

  let draining = false;
  let server: Server | undefined;
  const app = createApp({
    pool,
    metrics,
    fetch: ctx.fetch,
    fetchHeaders: runtime.fetchHeaders,
    scanAsText: runtime.scanAsText,
    logger,
    security: {
      apiKeys: config.apiKeys,
      corsOrigins: config.corsOrigins,
      allowHosts: config.allowHosts,
      loopback: isLoopback(config.host),
      port: () => server?.port,
    },
    userAgent: defaultUserAgent(process.platform, process.arch),
    now: ctx.now,
    maxBodyBytes: config.maxBodyBytes,
    firstByteTimeoutMs: config.firstByteTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    draining: () => draining,
  });

  // Watching signals before listening: a SIGTERM that comes right after start must drain too.
  const signals = watchSignals(ctx);
  try {
    try {
      server = await runtime.serve(app, { hostname: config.host, port: config.port });
    } catch (error) {
      if (error instanceof AddressInUseError) throw new QwenError(error.message);
      throw new QwenError(
        `Cannot listen on "${config.host}:${config.port}": ${(error as Error)?.message ?? error}`,
      );
    }
    ctx.stderr(`listening on ${server.url}\n`);
    if (first.unknown.length > 0) {
      // Not an error: a systemd unit may start before "qwen auth --account NAME" ran.
      logger.info(
        `no account ${first.unknown.map((n) => `"${n}"`).join(", ")} yet in "${home}" or the ` +
          'environment: it joins once it appears (see "qwen status")',
      );
    }
    if (pool.size === 0) {
      logger.info(
        'no accounts yet: run "qwen auth" or "qwen auth --provider PRESET"; requests get 401 ' +
          "until one appears",
      );
    } else {
      logger.info(
        `${pool.size} account${pool.size === 1 ? "" : "s"} (${config.strategy}): ${
          pool.members.map((m) => m.name).join(", ")
        }`,
      );
    }

    const signal = await signals.first;
    draining = true;
    logger.info(
      `${signal}: no new connections; open requests get up to ${config.graceMs / 1000} s`,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const graceOver = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), config.graceMs);
    });
    const outcome = await Promise.race([
      server.close(false).then(() => "drained" as const),
      graceOver,
    ]);
    clearTimeout(timer);
    if (outcome === "timeout") {
      logger.info("grace period over: closing the requests still open");
      await Promise.race([server.close(true), new Promise((r) => setTimeout(r, 1000))]);
    } else {
      logger.info("stopped");
    }
    return ExitCode.ok;
  } finally {
    await pool.close();
    output.flush();
    signals.dispose();
  }
}

/**
 * The first SIGTERM or SIGINT starts the drain; any signal after it exits at once. One listener
 * for the whole run: removing and re-adding signal listeners races under the Deno runtime.
 */
function watchSignals(ctx: Context): {
  first: Promise<"SIGTERM" | "SIGINT">;
  dispose(): void;
} {
  let received: "SIGTERM" | "SIGINT" | undefined;
  let resolveFirst!: (signal: "SIGTERM" | "SIGINT") => void;
  const first = new Promise<"SIGTERM" | "SIGINT">((resolve) => (resolveFirst = resolve));
  const on = (signal: "SIGTERM" | "SIGINT") => {
    if (received !== undefined) runtime.exit(received === "SIGINT" ? 130 : 143);
    received = signal;
    resolveFirst(signal);
  };
  const onTerm = () => on("SIGTERM");
  // main.ts turns the first SIGINT into ctx.signal (and exits on its own on the second).
  const onInt = () => on("SIGINT");
  process.on("SIGTERM", onTerm);
  if (ctx.signal.aborted) onInt();
  else ctx.signal.addEventListener("abort", onInt, { once: true });
  return {
    first,
    dispose() {
      process.off("SIGTERM", onTerm);
      ctx.signal.removeEventListener("abort", onInt);
    },
  };
}

/** Accounts are the same when name, kind and file or variable are. */
function accountKey(a: Account): string {
  return `${a.name}\0${a.type}\0${a.file ?? ""}\0${a.envVar ?? ""}`;
}
