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
import { type Account, listAccounts } from "../accounts/account.ts";
import { OAuthTokenSource } from "../credentials/token-source.ts";
import type { AccountState, AccountStatus } from "../credentials/types.ts";
import { SWITCH_COMMANDS } from "../upstream/classify.ts";
import { isRefusal, type ProbeResultName } from "../upstream/probe.ts";
import { homeFolderWarning } from "../credentials/home-folder.ts";
import { DEFAULT_ACCOUNT, qwenHome } from "../credentials/paths.ts";
import { oauthBaseUrl } from "../oauth/constants.ts";
import { beijingDay } from "../lib/time.ts";
import { readStateFile, STATE_FILE, type StateSnapshot, StateStore } from "../pool/state-file.ts";
import { nextTryAt } from "../pool/pool.ts";
import { join } from "node:path";
import { localTime, relative } from "../terminal/time.ts";

interface StatusOptions {
  json: boolean;
  refresh: boolean;
  /** One 1-token chat call per account. */
  probe?: boolean;
  /** Only this account. */
  account?: string;
}

/**
 * What the credentials say, or what `qwen serve` learned (qwen_state.json): `cooling_down` after
 * a quota answer, until `cooldown_until`; `rejected` after the upstream refused them.
 */
type AccountStateName = Exclude<AccountState, "missing"> | "cooling_down" | "rejected";

/** `probe` in `status --json`: what the 1-token chat call of `--probe` got. */
interface ProbeReport {
  result: ProbeResultName;
  /** The upstream's HTTP status, null when there was no answer. */
  status: number | null;
  message: string;
}

/** One entry of `accounts` in `status --json`. Fields may be added later, never renamed. */
interface AccountReport {
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
  /** For a rejected account: the ISO time after which `qwen serve` tries it again with one request. */
  retry_at: string | null;
  /** Today's usage `{requests, prompt_tokens, completion_tokens}` (from `qwen serve`; null until then). */
  usage_today: { requests: number; prompt_tokens: number; completion_tokens: number } | null;
  /** With `--probe`: what the upstream answered; else null. */
  probe: ProbeReport | null;
}

interface StatusReport {
  version: 1;
  home: string;
  usable: boolean;
  accounts: AccountReport[];
}

export async function runStatus(options: StatusOptions, ctx: Context): Promise<number> {
  const home = qwenHome(ctx.env);
  const deps = {
    oauthBaseUrl: oauthBaseUrl(ctx.env),
    fetch: ctx.fetch,
    now: () => ctx.now(),
    sleep: ctx.sleep,
  };
  let listed: Account[];
  let homeProblem: string | undefined;
  try {
    listed = await listAccounts(home, ctx.env, deps);
    if (options.account !== undefined) listed = listed.filter((a) => a.name === options.account);
  } catch (error) {
    listed = [];
    homeProblem = `Cannot list the accounts in "${home}": ${(error as Error).message ?? error}`;
  }

  // What `qwen serve` wrote: cooldowns, rejections, today's usage.
  const saved = (await readStateFile(join(home, STATE_FILE))).snapshot;
  const inspected = await Promise.all(listed.map(async (account) => {
    const now = await inspect(account, ctx.now());
    if (now === undefined) return undefined;
    let report = withServeState(now.status, now.report, saved, ctx.now());
    if (options.refresh && report.state === "expired") {
      report = await refreshAccount(account, report, ctx);
    }
    return { account, report };
  }));
  const present = inspected.filter((x) => x !== undefined);
  const accounts: AccountReport[] = options.probe
    ? await Promise.all(present.map(({ account, report }) => probeAccount(account, report, ctx)))
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
  const homeWarning = await homeFolderWarning(home);
  if (homeWarning) ctx.stderr(`warning: ${homeWarning}\n`);
  if (options.json) {
    ctx.stdout(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    ctx.stdout(renderText(report, options, ctx.now()));
  }
  if (options.account !== undefined && listed.length === 0 && !homeProblem) {
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
function withServeState(
  status: AccountStatus,
  report: AccountReport,
  saved: StateSnapshot,
  now: number,
): AccountReport {
  const record = saved.accounts[report.name];
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
  if (
    health.state === "rejected" &&
    (health.identity === undefined || health.identity === status.identity)
  ) {
    return {
      ...out,
      state: "rejected",
      retry_at: new Date(nextTryAt(health)).toISOString(),
      error: `${health.reason === "arrears" ? "in arrears" : "refused by the upstream"}${
        health.message ? `: ${health.message}` : ""
      }`,
    };
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
    a.retry_at = null;
    a.error = null;
  }
  try {
    await store.sync();
  } catch (error) {
    ctx.stderr(`error: Cannot clear the cooldown in "${store.path}": ${describeError(error)}\n`);
  }
}

/** First match wins: 0 valid, 4 expired, 1 invalid, 3 otherwise. */
function exitCodeFor(accounts: Pick<AccountReport, "state">[]): number {
  if (accounts.some((a) => a.state === "valid")) return ExitCode.ok;
  if (accounts.some((a) => a.state === "expired")) return ExitCode.expired;
  if (accounts.some((a) => a.state === "invalid")) return ExitCode.failure;
  return ExitCode.notAuthenticated;
}

/**
 * With `--probe`: 0 when some probe answered ok, else 5 when the upstream refused some, else
 * the offline codes, except that 0 (a valid file nobody could check) becomes 1.
 */
function probeExitCode(accounts: Pick<AccountReport, "state" | "probe">[]): number {
  if (accounts.some((a) => a.probe?.result === "ok")) return ExitCode.ok;
  if (accounts.some((a) => a.probe !== null && isRefusal(a.probe.result))) {
    return ExitCode.refused;
  }
  const code = exitCodeFor(accounts);
  return code === ExitCode.ok ? ExitCode.failure : code;
}

/** The account as its credentials say now (no network); undefined once its file is gone. */
async function inspect(
  account: Account,
  now: number,
): Promise<{ status: AccountStatus; report: AccountReport } | undefined> {
  const status = await account.source.state();
  // "missing": deleted between listing and reading, no longer an account.
  if (status.state === "missing") return undefined;
  const expiry = status.expiryDate;
  const report: AccountReport = {
    name: account.name,
    type: account.type,
    file: account.file,
    state: status.state,
    expiry_date: expiry ?? null,
    expires_at: expiry === undefined ? null : isoOrNull(expiry),
    expires_in_s: expiry === undefined ? null : Math.floor((expiry - now) / 1000),
    resource_url: status.resourceUrl ?? null,
    base_url: status.state === "invalid" ? null : status.baseUrl ?? null,
    error: status.problem ?? null,
    provider: account.provider ?? null,
    env: account.envVar,
    key_fingerprint: status.keyFingerprint ?? null,
    cooldown_until: null,
    retry_at: null,
    usage_today: null,
    probe: null,
  };
  return { status, report };
}

async function refreshAccount(
  account: Account,
  before: AccountReport,
  ctx: Context,
): Promise<AccountReport> {
  const source = account.source;
  if (!(source instanceof OAuthTokenSource)) return before;
  const again = async () => (await inspect(account, ctx.now()))?.report ?? before;
  try {
    const { refreshed } = await source.refresh({ signal: ctx.signal });
    const after = await again();
    ctx.stderr(
      refreshed
        ? `Refreshed account "${account.name}".\n`
        : `Account "${account.name}" was already refreshed by another process.\n`,
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
    const after = await again();
    return { ...after, error: after.error ?? message };
  }
}

/** One 1-token chat call for the account; an unusable file is reported without a call. */
async function probeAccount(
  account: Account,
  before: AccountReport,
  ctx: Context,
): Promise<AccountReport> {
  // Loaded only here: plain `qwen status` stays offline and light.
  const [{ probe }, { defaultUserAgent }] = await Promise.all([
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
  const outcome = await probe({
    source: account.source,
    model: account.modelMap["coder-model"] ?? "coder-model",
  }, {
    fetch: ctx.fetch,
    userAgent: defaultUserAgent(process.platform, process.arch),
    now: () => ctx.now(),
    signal: ctx.signal,
  });
  // The probe may have refreshed an expired OAuth token: show the file as it is now.
  let after = account.type === "oauth"
    ? ((await inspect(account, ctx.now()))?.report ?? before)
    : before;
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
    lines.push("", `Account "${a.name}" (${kind}): ${STATE_TEXT[a.state]}`);
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
    if (a.retry_at !== null) lines.push(`  Next try:  ${nextTryText(Date.parse(a.retry_at), now)}`);
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
  const good = options.probe
    ? report.accounts.filter((a) => a.probe?.result === "ok").length
    : report.accounts.filter((a) => a.state === "valid").length;
  lines.push(
    "",
    `Usable: ${report.usable ? "yes" : "no"} (${good} of ${count} ${
      count === 1 ? "account" : "accounts"
    } ${options.probe ? "answered" : "valid"})`,
  );
  return lines.join("\n") + "\n";
}

/** When `qwen serve` sends a rejected account one request again. */
function nextTryText(at: number, now: number): string {
  return at > now
    ? `${localTime(at)} (${relative(at - now)}): "qwen serve" then sends it one request`
    : `with the next request to "qwen serve" (due ${relative(at - now)})`;
}

const STATE_TEXT: Record<AccountStateName, string> = {
  valid: "valid",
  expired: "expired (refreshable)",
  invalid: "invalid",
  needs_login: "needs a new login",
  cooling_down: "cooling down (quota)",
  rejected: "rejected by the upstream",
};

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
