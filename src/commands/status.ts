/**
 * `qwen status`: whether the stored logins and API keys can be used, for people and for scripts.
 * Offline by default (the files alone decide); `--refresh` refreshes expired OAuth accounts
 * first, through the official lock; `--probe` asks the upstream with one 1-token chat call per
 * account. Exit codes, first match wins: 0 some account valid, 4 some expired, 1 some file
 * invalid or unreadable, 3 otherwise; with `--probe`: 0 some probe answered ok, 5 some was
 * refused, else the codes above with 0 turned into 1 (nobody answered).
 */
import type { Context } from "../lib/context.ts";
import { describeError, ExitCode, QwenError } from "../lib/errors.ts";
import process from "node:process";
import {
  type AccountEntry,
  findAccounts,
  keyFingerprintOf,
  listAccounts,
  providerOf,
} from "../accounts/accounts.ts";
import { isRefusal, type ProbeResultName, SWITCH_COMMANDS } from "../upstream/probe.ts";
import { baseUrlFromResourceUrl } from "../credentials/base-url.ts";
import { DEFAULT_ACCOUNT, qwenHome } from "../credentials/paths.ts";
import { isTokenValid, readOAuthCredentials } from "../credentials/store.ts";
import { oauthBaseUrl } from "../oauth/constants.ts";
import {
  beijingDay,
  credentialsIdentity,
  readStateFile,
  STATE_FILE,
  type StateSnapshot,
  StateStore,
} from "../pool/state-file.ts";
import { join } from "node:path";
import { localTime, relative } from "../terminal/time.ts";

export interface StatusOptions {
  json: boolean;
  refresh: boolean;
  /** One 1-token chat call per account. */
  probe?: boolean;
  /** Only this account. */
  account?: string;
}

export type AccountStateName =
  | "valid"
  | "expired"
  | "invalid"
  | "needs_login"
  /** Set by `qwen serve` after a quota answer, until `cooldown_until` (qwen_state.json). */
  | "cooling_down"
  /** Set by `qwen serve` after the upstream refused the key or token (qwen_state.json). */
  | "rejected";

/** `probe` in `status --json`: what the 1-token chat call of `--probe` got. */
export interface ProbeReport {
  result: ProbeResultName;
  /** The upstream's HTTP status, null when there was no answer. */
  status: number | null;
  message: string;
}

/** One entry of `accounts` in `status --json`. Fields may be added later, never renamed. */
export interface AccountReport {
  name: string;
  type: "oauth" | "api_key";
  /** The file behind the account; null for a key from an environment variable. */
  file: string | null;
  state: AccountStateName;
  expiry_date: number | null;
  expires_at: string | null;
  expires_in_s: number | null;
  resource_url: string | null;
  base_url: string | null;
  error: string | null;
  /** `qwen-oauth` for OAuth accounts, else the preset (`dashscope`, `coding-plan`, ...). */
  provider: string | null;
  /** The variable holding the key of an environment account, else null. */
  env: string | null;
  /** `sk-sp-…9f2c` for API keys, null for OAuth. */
  key_fingerprint: string | null;
  /** ISO time a quota cooldown ends (written by `qwen serve`; null until then). */
  cooldown_until: string | null;
  /** Today's usage `{requests, prompt_tokens, completion_tokens}` (from `qwen serve`; null until then). */
  usage_today: { requests: number; prompt_tokens: number; completion_tokens: number } | null;
  /** With `--probe`: what the upstream answered; else null. */
  probe: ProbeReport | null;
}

export interface StatusReport {
  version: 1;
  home: string;
  usable: boolean;
  accounts: AccountReport[];
}

export async function runStatus(options: StatusOptions, ctx: Context): Promise<number> {
  const home = qwenHome(ctx.env);
  let entries: AccountEntry[];
  let homeProblem: string | undefined;
  try {
    entries = await listAccounts(home, ctx.env);
    if (options.account !== undefined) entries = findAccounts(entries, options.account);
  } catch (error) {
    entries = [];
    homeProblem = `Cannot list the accounts in "${home}": ${(error as Error).message ?? error}`;
  }

  // What `qwen serve` wrote: cooldowns, rejections, today's usage.
  const saved = (await readStateFile(join(home, STATE_FILE))).snapshot;
  const inspected = await Promise.all(entries.map(async (entry) => {
    let report = await inspect(entry, ctx.now());
    if (report === undefined) return undefined;
    report = await withServeState(entry, report, saved, ctx.now());
    if (options.refresh && entry.kind === "oauth" && report.state === "expired") {
      report = await refreshAccount(entry, report, ctx);
    }
    return { entry, report };
  }));
  const present = inspected.filter((x) => x !== undefined);
  const accounts: AccountReport[] = options.probe
    ? await Promise.all(present.map(({ entry, report }) => probeAccount(entry, report, ctx)))
    : present.map((x) => x.report);
  if (options.probe) await clearRecovered(home, accounts, saved, ctx);

  const probed = accounts.filter((a) => a.probe !== null);
  const report: StatusReport = {
    version: 1,
    home,
    usable: options.probe
      ? probed.some((a) => a.probe!.result === "ok")
      : accounts.some((a) => a.state === "valid"),
    accounts,
  };
  const code = homeProblem
    ? ExitCode.failure
    : options.probe
    ? probeExitCode(accounts)
    : exitCodeFor(accounts);

  if (homeProblem) ctx.stderr(`error: ${homeProblem}\n`);
  if (options.json) {
    ctx.stdout(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    ctx.stdout(renderText(report, options, ctx.now()));
  }
  if (options.account !== undefined && entries.length === 0 && !homeProblem) {
    ctx.stderr(
      `No credentials for account "${options.account}" in "${home}": run "${
        authCommand(options.account)
      }" to log in, or "qwen auth --provider PRESET --account ${options.account}" to store an API key\n`,
    );
  }
  return code;
}

/**
 * The state `qwen serve` keeps in `qwen_state.json`: an account cooling down after a quota
 * answer, or rejected by the upstream (while its credentials are the ones refused), and today's
 * usage (Beijing date, as the state file counts).
 */
async function withServeState(
  entry: AccountEntry,
  report: AccountReport,
  saved: StateSnapshot,
  now: number,
): Promise<AccountReport> {
  const record = saved.accounts[entry.name];
  if (record === undefined) return report;
  const day = record.usage[beijingDay(now)];
  const out: AccountReport = {
    ...report,
    usage_today: day === undefined ? null : {
      requests: day.requests,
      prompt_tokens: day.prompt_tokens,
      completion_tokens: day.completion_tokens,
    },
  };
  const health = record.health;
  if (health === undefined || (report.state !== "valid" && report.state !== "expired")) return out;
  if (health.state === "cooling_down" && (health.until ?? 0) > now) {
    return {
      ...out,
      state: "cooling_down",
      cooldown_until: new Date(health.until!).toISOString(),
      error: health.message ? `quota: ${health.message}` : "quota exhausted",
    };
  }
  if (health.state === "rejected") {
    const identity = await credentialsIdentity(
      { file: entry.origin === "file" ? entry.file : null, envVar: null },
      () =>
        Promise.resolve(
          entry.origin === "env" && entry.env.key
            ? `env:${keyFingerprintOf(entry)}:${entry.env.baseUrl}`
            : undefined,
        ),
    );
    if (health.identity === undefined || health.identity === identity) {
      return {
        ...out,
        state: "rejected",
        error: `${health.reason === "arrears" ? "in arrears" : "refused by the upstream"}${
          health.message ? `: ${health.message}` : ""
        }`,
      };
    }
  }
  return out;
}

/** A probe that answered ends a cooldown or rejection early: written for `qwen serve` to see. */
async function clearRecovered(
  home: string,
  accounts: AccountReport[],
  saved: StateSnapshot,
  ctx: Context,
) {
  const recovered = accounts.filter((a) => {
    const health = saved.accounts[a.name]?.health;
    return a.probe?.result === "ok" && health !== undefined && health.state !== "ok";
  });
  if (recovered.length === 0) return;
  const store = new StateStore(home, { now: () => ctx.now() });
  for (const a of recovered) {
    store.setHealth(a.name, { state: "ok", reason: "probe_ok", changedAt: ctx.now() });
    a.state = "valid";
    a.cooldown_until = null;
    a.error = null;
  }
  try {
    await store.sync();
  } catch (error) {
    ctx.stderr(`error: Cannot clear the cooldown in "${store.path}": ${describeError(error)}\n`);
  }
}

/** First match wins: 0 valid, 4 expired, 1 invalid, 3 otherwise. */
export function exitCodeFor(accounts: Pick<AccountReport, "state">[]): number {
  if (accounts.some((a) => a.state === "valid")) return ExitCode.ok;
  if (accounts.some((a) => a.state === "expired")) return ExitCode.expired;
  if (accounts.some((a) => a.state === "invalid")) return ExitCode.failure;
  return ExitCode.notAuthenticated;
}

/**
 * With `--probe`: 0 when some probe answered ok, else 5 when the upstream refused some, else
 * the offline codes, except that 0 (a valid file nobody could check) becomes 1.
 */
export function probeExitCode(accounts: Pick<AccountReport, "state" | "probe">[]): number {
  if (accounts.some((a) => a.probe?.result === "ok")) return ExitCode.ok;
  if (accounts.some((a) => a.probe !== null && isRefusal(a.probe.result))) {
    return ExitCode.refused;
  }
  const code = exitCodeFor(accounts);
  return code === ExitCode.ok ? ExitCode.failure : code;
}

function emptyReport(entry: AccountEntry): AccountReport {
  return {
    name: entry.name,
    type: entry.kind,
    file: entry.origin === "file" ? entry.file : null,
    state: "invalid",
    expiry_date: null,
    expires_at: null,
    expires_in_s: null,
    resource_url: null,
    base_url: null,
    error: null,
    provider: providerOf(entry) ?? null,
    env: entry.origin === "env" ? entry.env.envVar : null,
    key_fingerprint: keyFingerprintOf(entry) ?? null,
    cooldown_until: null,
    usage_today: null,
    probe: null,
  };
}

async function inspect(entry: AccountEntry, now: number): Promise<AccountReport | undefined> {
  const report = emptyReport(entry);
  if (entry.kind === "api_key") {
    if (entry.origin === "env") {
      const env = entry.env;
      if (env.problem) return { ...report, state: "invalid", error: env.problem };
      return { ...report, state: "valid", base_url: env.baseUrl ?? null };
    }
    const read = entry.read;
    if (read.kind === "missing") return undefined;
    if (read.kind !== "ok") return { ...report, state: "invalid", error: read.problem };
    return { ...report, state: "valid", base_url: read.file.base_url };
  }
  const read = await readOAuthCredentials(entry.file);
  switch (read.kind) {
    case "missing":
      // Deleted between listing and reading: no longer an account.
      return undefined;
    case "invalid":
    case "unreadable":
      return { ...report, state: "invalid", error: read.problem };
  }
  const c = read.credentials;
  return {
    ...report,
    state: isTokenValid(c, now) ? "valid" : "expired",
    expiry_date: c.expiry_date,
    expires_at: isoOrNull(c.expiry_date),
    expires_in_s: Math.floor((c.expiry_date - now) / 1000),
    resource_url: c.resource_url ?? null,
    base_url: baseUrlFromResourceUrl(c.resource_url),
  };
}

async function refreshAccount(
  entry: AccountEntry & { kind: "oauth" },
  before: AccountReport,
  ctx: Context,
): Promise<AccountReport> {
  // Loaded only here: plain `qwen status` stays offline and light.
  const { OAuthTokenSource } = await import("../credentials/token-source.ts");
  const source = new OAuthTokenSource({
    path: entry.file,
    account: entry.name,
    oauthBaseUrl: oauthBaseUrl(ctx.env),
    fetch: ctx.fetch,
    now: () => ctx.now(),
    sleep: ctx.sleep,
  });
  try {
    const { refreshed } = await source.refresh({ signal: ctx.signal });
    const after = (await inspect(entry, ctx.now())) ?? before;
    ctx.stderr(
      refreshed
        ? `Refreshed account "${entry.name}".\n`
        : `Account "${entry.name}" was already refreshed by another process.\n`,
    );
    return after;
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    // Reported in the account, so that --json still prints its one object.
    const message = error instanceof QwenError ? error.message : describeError(error);
    ctx.stderr(`error: ${message}\n`);
    if (error instanceof QwenError && error.code === "needs_login") {
      return { ...before, state: "needs_login", error: message };
    }
    const after = (await inspect(entry, ctx.now())) ?? before;
    return { ...after, error: after.error ?? message };
  }
}

/** One 1-token chat call for the account; an unusable file is reported without a call. */
async function probeAccount(
  entry: AccountEntry,
  before: AccountReport,
  ctx: Context,
): Promise<AccountReport> {
  // Loaded only here: plain `qwen status` stays offline and light.
  const [{ openAccount }, { probe }, { defaultUserAgent }] = await Promise.all([
    import("../accounts/open.ts"),
    import("../upstream/probe.ts"),
    import("../upstream/headers.ts"),
  ]);
  if (before.state === "invalid" || before.state === "needs_login") {
    return {
      ...before,
      probe: {
        result: "credentials_error",
        status: null,
        message: `Not probed: ${before.error ?? "the account cannot be used"}`,
      },
    };
  }
  const account = openAccount(entry, {
    oauthBaseUrl: oauthBaseUrl(ctx.env),
    fetch: ctx.fetch,
    now: () => ctx.now(),
    sleep: ctx.sleep,
  });
  const outcome = await probe({
    name: account.name,
    source: account.source,
    model: account.modelMap["coder-model"] ?? "coder-model",
  }, {
    fetch: ctx.fetch,
    userAgent: defaultUserAgent(process.platform, process.arch),
    now: () => ctx.now(),
    signal: ctx.signal,
  });
  // The probe may have refreshed an expired OAuth token: show the file as it is now.
  let after = entry.kind === "oauth" ? ((await inspect(entry, ctx.now())) ?? before) : before;
  if (outcome.credentialsCode === "needs_login") {
    after = { ...after, state: "needs_login", error: outcome.message };
  }
  return {
    ...after,
    probe: { result: outcome.result, status: outcome.status, message: outcome.message },
  };
}

function isoOrNull(ms: number): string | null {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function authCommand(account: string): string {
  return account === DEFAULT_ACCOUNT ? "qwen auth" : `qwen auth --account ${account}`;
}

// ---- text output ----

function renderText(report: StatusReport, options: StatusOptions, now: number): string {
  const lines = [`Qwen home: ${report.home}`];
  if (report.accounts.length === 0) {
    if (options.account === undefined) {
      lines.push(
        `No Qwen credentials found: run "qwen auth" to log in, or store an API key with ` +
          `"qwen auth --provider PRESET" (Qwen's free OAuth tier ended on 2026-04-15).`,
      );
    }
    return lines.join("\n") + "\n";
  }
  for (const a of report.accounts) {
    const kind = a.type === "oauth" ? a.type : `${a.type}, ${a.provider ?? "unknown provider"}`;
    lines.push("", `Account "${a.name}" (${kind}): ${describeState(a.state)}`);
    if (a.file !== null) lines.push(`  File:      ${a.file}`);
    if (a.env !== null) lines.push(`  From:      the variable ${a.env}`);
    if (a.key_fingerprint !== null) lines.push(`  Key:       ${a.key_fingerprint}`);
    if (a.expiry_date !== null) {
      lines.push(
        `  Expires:   ${localTime(a.expiry_date)} (${relative(a.expiry_date - now)})`,
      );
    }
    if (a.resource_url !== null) lines.push(`  Resource:  ${a.resource_url}`);
    if (a.base_url !== null) lines.push(`  API base:  ${a.base_url}`);
    if (a.cooldown_until !== null) lines.push(`  Cooldown:  until ${a.cooldown_until}`);
    if (a.usage_today !== null) {
      const u = a.usage_today;
      lines.push(
        `  Today:     ${u.requests} requests, ${u.prompt_tokens} prompt + ${u.completion_tokens} completion tokens (Beijing date)`,
      );
    }
    if (a.error !== null) lines.push(`  Problem:   ${a.error}`);
    if (a.probe !== null) {
      lines.push(
        `  Probe:     ${a.probe.result}${
          a.probe.status === null ? "" : ` (HTTP ${a.probe.status})`
        }`,
        `             ${a.probe.message}`,
      );
    }
    const hint = hintFor(a);
    if (hint) lines.push(`  Next:      ${hint}`);
  }
  const count = report.accounts.length;
  const plural = count === 1 ? "account" : "accounts";
  if (options.probe) {
    const ok = report.accounts.filter((a) => a.probe?.result === "ok").length;
    lines.push(
      "",
      `Usable: ${report.usable ? "yes" : "no"} (${ok} of ${count} ${plural} answered)`,
    );
  } else {
    const valid = report.accounts.filter((a) => a.state === "valid").length;
    lines.push(
      "",
      `Usable: ${report.usable ? "yes" : "no"} (${valid} of ${count} ${plural} valid)`,
    );
  }
  return lines.join("\n") + "\n";
}

function describeState(state: AccountStateName): string {
  switch (state) {
    case "valid":
      return "valid";
    case "expired":
      return "expired (refreshable)";
    case "invalid":
      return "invalid";
    case "needs_login":
      return "needs a new login";
    case "cooling_down":
      return "cooling down (quota)";
    case "rejected":
      return "rejected by the upstream";
  }
}

function hintFor(a: AccountReport): string | undefined {
  if (a.probe?.result === "oauth_discontinued") return `run '${SWITCH_COMMANDS[0]}'`;
  if (a.state === "cooling_down") {
    return `wait, or run "qwen status --probe --account ${a.name}" to end it once the quota is back`;
  }
  if (a.state === "rejected" && a.type === "api_key" && a.env === null) {
    return `store a new key with "qwen auth --provider PRESET --account ${a.name} --force"`;
  }
  if (a.type === "api_key") {
    if (a.env !== null) {
      return a.state === "invalid" ? `fix the variable ${a.env}` : undefined;
    }
    if (a.state === "invalid") {
      return `run "qwen auth --provider PRESET --account ${a.name} --force" to store the key again`;
    }
    return undefined;
  }
  switch (a.state) {
    case "expired":
      return `run "qwen status --refresh" or "${authCommand(a.name)}"`;
    case "invalid":
    case "needs_login":
      return `run "${authCommand(a.name)}" to log in again`;
  }
  return undefined;
}
