/**
 * `qwen serve`: a ServeConfig (cli/serve-config.ts reads it from flags and environment) → the app
 * on the runtime's own server, until SIGTERM/SIGINT; then a graceful drain bounded by `--grace`,
 * and a second signal exits at once.
 */
import process from "node:process";
import type { Context } from "../lib/context.ts";
import { listAccounts, selectAccounts } from "../accounts/account.ts";
import { qwenHome } from "../credentials/paths.ts";
import { AccountPool } from "../pool/pool.ts";
import { StateStore } from "../pool/state-file.ts";
import { Metrics } from "../server/metrics.ts";
import { ExitCode, QwenError } from "../lib/errors.ts";
import { isLoopback } from "../lib/net.ts";
import { oauthBaseUrl } from "../oauth/constants.ts";
import { AddressInUseError, runtime, type Server } from "../runtime/mod.ts";
import { createApp } from "../server/app.ts";
import { bufferedWriter, createLogger } from "../server/log.ts";
import { defaultUserAgent } from "../upstream/headers.ts";

/** As cli/serve-config.ts resolves it: a host other than loopback always comes with API keys. */
export interface ServeConfig {
  host: string;
  port: number;
  apiKeys: string[];
  /** Accounts of the pool (`--account`, repeatable); empty: every account there is. */
  accounts: string[];
  strategy: "round-robin" | "fill-first";
  /** `--model-map from=to` on top of each account's own map. */
  modelMap: Record<string, string>;
  allowHosts: string[];
  corsOrigins: string[];
  maxBodyBytes: number;
  graceMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  /** Responses `/v1/responses` keeps for `previous_response_id`; 0: none. */
  responsesStore: number;
  verbose: boolean;
  logFormat: "text" | "json";
}

/** Accounts listed again, refused ones re-checked and the state file synced this often. */
const MAINTAIN_INTERVAL_MS = 2_000;

export async function runServe(config: ServeConfig, ctx: Context): Promise<number> {
  const home = qwenHome(ctx.env);
  const output = bufferedWriter(ctx.stderr);
  const logger = createLogger({
    format: config.logFormat,
    verbose: config.verbose,
    write: output.write,
    secrets: config.apiKeys,
  });
  const accountDeps = {
    oauthBaseUrl: oauthBaseUrl(ctx.env),
    fetch: ctx.fetch,
    now: ctx.now,
    // Refresh a few minutes early so a long request never starts on a token about to expire.
    refreshAheadMs: 5 * 60_000,
  };
  const list = async () =>
    selectAccounts(await listAccounts(home, ctx.env, accountDeps), config.accounts);
  const first = await list().catch((error) => {
    throw new QwenError(`Cannot list the accounts in "${home}": ${(error as Error).message}`);
  });
  const metrics = new Metrics();
  const state = new StateStore(home, { now: ctx.now });
  const pool = new AccountPool({
    strategy: config.strategy,
    now: ctx.now,
    modelMap: config.modelMap,
    state,
    observer: metrics,
    log: (message) => logger.info(message),
    // An account already in the pool keeps its member, and with it its token source's cache
    // and refresh state.
    list: async () => (await list()).accounts,
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
    responsesStore: config.responsesStore,
    draining: () => draining,
  });

  // Watching signals before listening: a SIGTERM that comes right after start must drain too.
  const signals = watchSignals(ctx);
  try {
    try {
      server = await runtime.serve(app, {
        hostname: config.host,
        port: config.port,
        log: (message) => logger.info(message),
      });
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
