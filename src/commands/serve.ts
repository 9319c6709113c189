/**
 * `qwen serve`: a ServeConfig (cli/serve-config.ts reads it from flags, environment and the env
 * file) → the app on the runtime's own server, until SIGTERM/SIGINT; then a graceful drain bounded
 * by `--grace`, and a second signal exits at once. SIGHUP reads the configuration again and lists
 * the accounts again, without touching the server or its connections.
 */
import process from "node:process";
import type { Context } from "../lib/context.ts";
import { type Account, listAccounts, selectAccounts } from "../accounts/account.ts";
import { homeFolderWarning } from "../credentials/home-folder.ts";
import { qwenHome } from "../credentials/paths.ts";
import { AccountPool } from "../pool/pool.ts";
import { StateStore } from "../pool/state-file.ts";
import { Metrics } from "../server/metrics.ts";
import { ExitCode, QwenError } from "../lib/errors.ts";
import { isLoopback } from "../lib/net.ts";
import { oauthBaseUrl } from "../oauth/constants.ts";
import { AddressInUseError, runtime, type Server } from "../runtime/mod.ts";
import { createApp } from "../server/app.ts";
import type { SecurityOptions } from "../server/security.ts";
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
  /** The largest upstream answer read whole (`--max-response`). */
  maxResponseBytes: number;
  graceMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  /** Responses `/v1/responses` keeps for `previous_response_id`; 0: none. */
  responsesStore: number;
  verbose: boolean;
  logFormat: "text" | "json";
}

type Env = Readonly<Record<string, string | undefined>>;

/** A configuration as read at start, or again on SIGHUP, with the environment it was read from. */
export interface ServeSetup {
  config: ServeConfig;
  /** The process's environment with the env file's variables over it. */
  env: Env;
  /** A line for the log about how it was read (an env file that does not exist yet). */
  note?: string;
}

/** Accounts listed again, refused ones re-checked and the state file synced this often. */
const MAINTAIN_INTERVAL_MS = 2_000;

/**
 * Settings that a reload does not change, with the flag that names them: the socket, the
 * watchdog's tick (set by the timeouts), the response store and the log are made once.
 */
const FIXED_SETTINGS: readonly (readonly [keyof ServeConfig, string])[] = [
  ["host", "--host"],
  ["port", "--port"],
  ["maxBodyBytes", "--max-body"],
  ["firstByteTimeoutMs", "--first-byte-timeout"],
  ["idleTimeoutMs", "--idle-timeout"],
  ["responsesStore", "--responses-store"],
  ["verbose", "--verbose"],
  ["logFormat", "--log-format"],
];

/**
 * Runs the server with `setup` until SIGTERM or SIGINT. On SIGHUP, `reload` (the caller's own
 * reading of flags, environment and env file) gives the settings that can change live.
 */
export async function runServe(
  setup: ServeSetup,
  ctx: Context,
  reload: () => Promise<ServeSetup> = () => Promise.resolve(setup),
): Promise<number> {
  let { config } = setup;
  let env = setup.env;
  const home = qwenHome(env);
  const output = bufferedWriter(ctx.stderr);
  // Every API key ever configured stays blanked out of the log, a revoked one too.
  const secrets = [...config.apiKeys];
  const logger = createLogger({
    format: config.logFormat,
    verbose: config.verbose,
    write: output.write,
    secrets,
  });
  if (setup.note) logger.info(setup.note);
  const accountDeps = serveAccountDeps(env, ctx);
  const list = () => listServeAccounts(home, env, config.accounts, accountDeps);
  const first = await firstListing(home, env, config.accounts, accountDeps);
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
  const homeWarning = await homeFolderWarning(home);
  if (homeWarning) logger.info(`warning: ${homeWarning}`);
  const upkeep = startUpkeep(pool, (message) => logger.info(message));

  let draining = false;
  const graceOver = new AbortController();
  let server: Server | undefined;
  // Its lists are replaced on reload; the guard takes the new ones at the next request.
  const security: SecurityOptions = {
    apiKeys: config.apiKeys,
    corsOrigins: config.corsOrigins,
    allowHosts: config.allowHosts,
    loopback: isLoopback(config.host),
    port: () => server?.port,
  };
  const app = createApp({
    pool,
    metrics,
    fetch: ctx.fetch,
    logger,
    security,
    userAgent: defaultUserAgent(process.platform, process.arch),
    now: ctx.now,
    maxBodyBytes: config.maxBodyBytes,
    maxResponseBytes: config.maxResponseBytes,
    firstByteTimeoutMs: config.firstByteTimeoutMs,
    idleTimeoutMs: config.idleTimeoutMs,
    responsesStore: config.responsesStore,
    draining: () => draining,
    cutStreams: graceOver.signal,
  });

  /** Applies what a reload read; what cannot change live is named in the log. */
  const apply = (next: ServeSetup): void => {
    const fixed = FIXED_SETTINGS.filter(([key]) =>
      JSON.stringify(next.config[key]) !== JSON.stringify(config[key])
    ).map(([, flag]) => flag);
    if (qwenHome(next.env) !== home) fixed.push("QWEN_HOME");
    if (oauthBaseUrl(next.env) !== accountDeps.oauthBaseUrl) fixed.push("QWEN_OAUTH_BASE_URL");
    // The running values of those stay, so that a later reload compares with what runs.
    config = {
      ...config,
      apiKeys: next.config.apiKeys,
      accounts: next.config.accounts,
      strategy: next.config.strategy,
      modelMap: next.config.modelMap,
      allowHosts: next.config.allowHosts,
      corsOrigins: next.config.corsOrigins,
      graceMs: next.config.graceMs,
    };
    env = next.env;
    for (const key of config.apiKeys) if (!secrets.includes(key)) secrets.push(key);
    security.apiKeys = config.apiKeys;
    security.corsOrigins = config.corsOrigins;
    security.allowHosts = config.allowHosts;
    pool.reconfigure({ strategy: config.strategy, modelMap: config.modelMap });
    if (next.note) logger.info(next.note);
    if (fixed.length > 0) {
      logger.info(`changed, but applied only by a restart: ${fixed.join(", ")}`);
    }
  };
  let reloading: Promise<void> = Promise.resolve();
  let stopping = false;
  const onHangUp = () => {
    // The pool is closing: nothing left to reload.
    if (stopping) return;
    // One reload at a time, in the order the signals came.
    reloading = reloading.then(async () => {
      try {
        apply(await reload());
      } catch (error) {
        logger.info(
          `SIGHUP: cannot read the configuration again: ${(error as Error).message}; ` +
            "the running one stays",
        );
      }
      await pool.maintainAfresh().catch((error) => {
        logger.info(`cannot list the accounts again: ${(error as Error).message}`);
      });
      logger.info(`SIGHUP: configuration read again; ${describePool(pool)}`);
    });
  };

  // Watching signals before listening: a SIGTERM that comes right after start must drain too.
  const signals = watchSignals(ctx, onHangUp);
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
    if (first.unknown.length > 0) logger.info(unknownAccountsNote(first.unknown, home));
    if (pool.size === 0) {
      logger.info(NO_ACCOUNTS_NOTE);
    } else {
      logger.info(describePool(pool));
    }

    const signal = await signals.first;
    draining = true;
    const { graceMs } = config;
    logger.info(
      `${signal}: no new connections; open requests get up to ${graceMs / 1000} s`,
    );
    const timers: ReturnType<typeof setTimeout>[] = [];
    const after = <T>(ms: number, value: T) =>
      new Promise<T>((resolve) => timers.push(setTimeout(() => resolve(value), ms)));
    try {
      const drained = server.close(false).then(() => "drained" as const);
      const outcome = await Promise.race([drained, after(graceMs, "timeout" as const)]);
      if (outcome === "timeout") {
        logger.info("grace period over: closing the requests still open");
        // Streams get an error event and end; a moment lets those last bytes out before the
        // connections still open are closed.
        graceOver.abort();
        await Promise.race([drained, after(1000, "timeout")]);
        await Promise.race([server.close(true), after(1000, "timeout")]);
      } else {
        logger.info("stopped");
      }
    } finally {
      for (const timer of timers) clearTimeout(timer);
    }
    return ExitCode.ok;
  } finally {
    stopping = true;
    await reloading;
    upkeep.stop();
    await pool.close();
    output.flush();
    signals.dispose();
  }
}

type AccountDeps = Parameters<typeof listAccounts>[2];

/** How a serve lists its accounts (and `--check` too): refreshes go to QWEN_OAUTH_BASE_URL. */
export function serveAccountDeps(env: Env, ctx: Pick<Context, "fetch" | "now">): AccountDeps {
  return {
    oauthBaseUrl: oauthBaseUrl(env),
    fetch: ctx.fetch,
    now: ctx.now,
    // Refresh a few minutes early so a long request never starts on a token about to expire.
    refreshAheadMs: 5 * 60_000,
  };
}

/** The accounts `names` selects (all when empty), and the names no account has: no network. */
async function listServeAccounts(
  home: string,
  env: Env,
  names: readonly string[],
  deps: AccountDeps,
): Promise<{ accounts: Account[]; unknown: string[] }> {
  return selectAccounts(await listAccounts(home, env, deps), names);
}

/** The listing a serve starts with; a home that cannot be listed stops the start. */
export async function firstListing(
  home: string,
  env: Env,
  names: readonly string[],
  deps: AccountDeps,
): ReturnType<typeof listServeAccounts> {
  return await listServeAccounts(home, env, names, deps).catch((error) => {
    throw new QwenError(`Cannot list the accounts in "${home}": ${(error as Error).message}`);
  });
}

/** Not an error: a systemd unit may start before "qwen auth --account NAME" ran. */
export function unknownAccountsNote(unknown: readonly string[], home: string): string {
  return `no account ${unknown.map((n) => `"${n}"`).join(", ")} yet in "${home}" or the ` +
    'environment: it joins once it appears (see "qwen status")';
}

export const NO_ACCOUNTS_NOTE =
  'no accounts yet: run "qwen auth" or "qwen auth --provider PRESET"; requests get 401 until ' +
  "one appears";

/** `3 accounts (round-robin): default, work, env-dashscope`. */
function describePool(pool: AccountPool): string {
  const size = pool.size;
  if (size === 0) return "no accounts";
  return `${size} account${size === 1 ? "" : "s"} (${pool.strategy}): ${
    pool.members.map((m) => m.name).join(", ")
  }`;
}

/**
 * `pool.maintain()` every MAINTAIN_INTERVAL_MS. A failure that lasts (a read-only home, a full
 * disk) is logged once, again only when it changes, and once more when it is over.
 */
function startUpkeep(pool: AccountPool, log: (message: string) => void): { stop(): void } {
  let failing: string | undefined;
  const timer = setInterval(() => {
    pool.maintain().then(() => {
      if (failing === undefined) return;
      failing = undefined;
      log("the account state is up to date again");
    }, (error) => {
      const message = `cannot update the account state: ${(error as Error)?.message ?? error}`;
      if (message === failing) return;
      failing = message;
      log(message);
    });
  }, MAINTAIN_INTERVAL_MS);
  (timer as { unref?: () => void }).unref?.();
  return { stop: () => clearInterval(timer) };
}

/**
 * The first SIGTERM or SIGINT starts the drain; any signal after it exits at once. SIGHUP calls
 * `onHangUp`, whenever it comes, and never stops the server (its default action would, at once).
 * One listener each for the whole run: removing and re-adding signal listeners races under the
 * Deno runtime.
 */
function watchSignals(ctx: Context, onHangUp: () => void): {
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
  let hangUpWatched = false;
  try {
    process.on("SIGHUP", onHangUp);
    hangUpWatched = true;
  } catch {
    // A runtime that cannot listen for SIGHUP (Deno on Windows, which has none) has no reload.
  }
  if (ctx.signal.aborted) onInt();
  else ctx.signal.addEventListener("abort", onInt, { once: true });
  return {
    first,
    dispose() {
      process.off("SIGTERM", onTerm);
      if (hangUpWatched) process.off("SIGHUP", onHangUp);
      ctx.signal.removeEventListener("abort", onInt);
    },
  };
}
