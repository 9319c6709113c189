/**
 * The accounts behind one `qwen serve`, and what the proxy has learned about each:
 *
 * - order per request: `round-robin` starts each request at the next account, `fill-first`
 *   always at the first (listing order: `default`, OAuth accounts, stored keys, environment
 *   keys); accounts throttled a moment ago go last;
 * - `cooling_down` after a quota answer, until `Retry-After`, midnight Beijing time for Qwen's
 *   daily quotas, else 1 min doubling per repeat up to 1 h; skipped until then;
 * - `rejected` after the upstream refused the credentials (or the account is in arrears);
 *   skipped until the file or key changes (a new login, a new key), `qwen status --probe` says it
 *   works again, or a try succeeds: once its back-off has passed (30 s, doubling per failed try up
 *   to 30 min) one live request goes to it first (`takeTrial`);
 * - usage counts per account and day, in memory, written to `qwen_state.json` by `maintain()`.
 *
 * Everything a request needs is in memory: `maintain()` (every few seconds, off the hot path)
 * lists the accounts again, checks refused credentials for a change, and syncs the state file.
 */
import type { Account } from "../accounts/account.ts";
import { ModelMap } from "../accounts/model-map.ts";
import type { TokenSource } from "../credentials/types.ts";
import type { Health, StateSnapshot, StateStore } from "./state-file.ts";

type Strategy = "round-robin" | "fill-first";

/** Tokens of one answer, as its usage reported them. */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

/** What the pool reports as it goes; the server's metrics implement it. */
export interface PoolObserver {
  tokens(account: string, usage: TokenUsage): void;
  upstreamError(account: string, failure: string): void;
  /** The accounts as of the last upkeep. */
  accounts(accounts: readonly AccountAvailability[]): void;
}

export interface AccountAvailability {
  name: string;
  /** `ok` when it can take requests, else its health state. */
  state: string;
  available: boolean;
}

/** Why no account can take a request right now. */
export type Verdict =
  | { kind: "no_accounts" }
  /** Some account comes back by itself at `until`. */
  | { kind: "cooling"; until: number }
  /** None comes back by itself: one reason per account. */
  | { kind: "unusable"; reasons: string[] };

const QUOTA_BACKOFF_START_MS = 60_000;
const QUOTA_BACKOFF_MAX_MS = 3_600_000;
const THROTTLE_START_MS = 2_000;
const THROTTLE_MAX_MS = 60_000;
const TRIAL_START_MS = 30_000;
/** How long a model refused to an account sends requests for it to the other accounts first. */
const REFUSED_MODEL_MS = 10 * 60_000;
/** Models remembered per account: clients can name any model, and memory must stay bounded. */
const MAX_REFUSED_MODELS = 64;
const TRIAL_MAX_MS = 1_800_000;

/**
 * When one request may try a rejected account again: its `retryAt`, or for a rejection written
 * before there were tries (no `retryAt`), the first back-off after it.
 */
export function nextTryAt(health: Health): number {
  return health.retryAt ?? health.changedAt + TRIAL_START_MS;
}

export class Member {
  readonly entry: Account;
  /** The account's model map with `--model-map` on top, and Claude's names. */
  models: ModelMap;
  health: Health = { state: "ok", changedAt: 0 };
  throttledUntil = 0;
  throttleStrikes = 0;
  /** Rejected, and a request is trying it after its back-off (`takeTrial`). */
  trying = false;
  /** Models the upstream refused this account lately (the client's name → until when). */
  refusedModels: Map<string, number> | undefined = undefined;

  constructor(entry: Account, overrides: Readonly<Record<string, string>>) {
    this.entry = entry;
    this.models = new ModelMap(entry.modelMap, overrides, entry.coderModels);
  }

  get name(): string {
    return this.entry.name;
  }

  get source(): TokenSource {
    return this.entry.source;
  }

  /** Whether the upstream refused `model` to this account less than REFUSED_MODEL_MS ago. */
  refuses(model: string | undefined, now: number): boolean {
    if (model === undefined || this.refusedModels === undefined) return false;
    const until = this.refusedModels.get(model);
    if (until === undefined) return false;
    if (until > now) return true;
    this.refusedModels.delete(model);
    return false;
  }

  /** Not cooling down and not rejected, as of `now`. */
  available(now: number): boolean {
    const h = this.health;
    if (h.state === "ok") return true;
    if (h.state === "cooling_down") return (h.until ?? 0) <= now;
    return false;
  }
}

interface PoolOptions {
  strategy?: Strategy;
  now?: () => number;
  /** `--model-map FROM=TO` in the order given, on top of each account's own map. */
  modelMap?: Readonly<Record<string, string>>;
  /** The accounts at start; `list` replaces them on each `maintain()`. */
  entries?: Account[];
  /** Lists the accounts again (qwen serve: listAccounts); absent for a fixed pool. */
  list?: () => Promise<Account[]>;
  /**
   * The identity of an account's credentials (default: its source's state); a rejected account
   * is tried again once it moves.
   */
  identity?: (account: Account) => Promise<string | undefined>;
  /** Where usage and health are kept across processes; absent: memory only. */
  state?: StateStore;
  observer?: PoolObserver;
  /** One line for the log when an account changes state. */
  log?: (message: string) => void;
}

export class AccountPool {
  members: Member[] = [];
  strategy: Strategy;
  /** `--model-map`, on top of each account's own map. */
  #modelMap: Readonly<Record<string, string>>;
  readonly #now: () => number;
  readonly #options: PoolOptions;
  #next = 0;
  /** `candidates()` of a pool of one ready account, kept. */
  #only?: readonly Member[];
  #maintaining?: Promise<void>;
  #timer?: ReturnType<typeof setInterval>;
  #closed = false;
  /** Set once the first `maintain()` ran (a listed pool starts empty). */
  listed = false;

  constructor(options: PoolOptions = {}) {
    this.#options = options;
    this.strategy = options.strategy ?? "round-robin";
    this.#modelMap = options.modelMap ?? {};
    this.#now = options.now ?? Date.now;
    if (options.entries) this.#setEntries(options.entries);
  }

  get size(): number {
    return this.members.length;
  }

  get #observer(): PoolObserver | undefined {
    return this.#options.observer;
  }

  /**
   * The accounts to try for one request, in order: available ones by the strategy, those
   * throttled a moment ago after them, and those that were refused `model` lately last. Empty when
   * none is available.
   */
  candidates(model?: string): readonly Member[] {
    const members = this.members;
    const n = members.length;
    if (n === 0) return [];
    const now = this.#now();
    if (n === 1) {
      // One account, the common case: the same frozen array for every request while it is ready.
      const only = members[0];
      if (!only.available(now)) return [];
      if (only.throttledUntil > now) return [only];
      if (this.#only?.[0] !== only) this.#only = Object.freeze([only]);
      return this.#only;
    }
    const start = this.strategy === "round-robin" ? this.#next++ % n : 0;
    if (this.#next >= 1 << 30) this.#next = 0;
    const ready: Member[] = [];
    let throttled: Member[] | undefined;
    let refusing: Member[] | undefined;
    for (let k = 0; k < n; k++) {
      const m = members[(start + k) % n];
      if (!m.available(now)) continue;
      if (m.refuses(model, now)) (refusing ??= []).push(m);
      else if (m.throttledUntil > now) (throttled ??= []).push(m);
      else ready.push(m);
    }
    if (throttled === undefined && refusing === undefined) return ready;
    throttled?.sort((a, b) => a.throttledUntil - b.throttledUntil);
    return ready.concat(throttled ?? [], refusing ?? []);
  }

  /**
   * The upstream refused `model` to this account (a model it is not entitled to, or does not
   * know): for a while, requests for that model try the other accounts first.
   */
  modelRefused(member: Member, model: string | undefined): void {
    if (model === undefined) return;
    const refused = member.refusedModels ??= new Map();
    refused.delete(model);
    // Insertion order is age order: the oldest goes first when the map is full.
    if (refused.size >= MAX_REFUSED_MODELS) refused.delete(refused.keys().next().value!);
    refused.set(model, this.#now() + REFUSED_MODEL_MS);
  }

  /**
   * A rejected account whose back-off has passed and that no request is trying, taken for the
   * caller's request, which tries it first and calls `endTrial` once that attempt is over.
   */
  takeTrial(): Member | undefined {
    const members = this.members;
    for (let i = 0; i < members.length; i++) {
      const m = members[i];
      if (m.health.state !== "rejected" || m.trying) continue;
      if (nextTryAt(m.health) > this.#now()) continue;
      m.trying = true;
      return m;
    }
    return undefined;
  }

  /**
   * The attempt with a taken account is over. Unless it succeeded or its answer decided otherwise
   * (the credentials refused again, which doubles the back-off, or accepted), the try told
   * nothing (a 5xx, a timeout, the network, the request's own fault): the next request tries
   * again, since the back-off it waited for is over.
   */
  endTrial(member: Member): void {
    if (!member.trying) return;
    member.trying = false;
    const h = member.health;
    if (h.state !== "rejected") return;
    const now = this.#now();
    // Said once per back-off: the tries that follow at once would repeat it for every request.
    if (nextTryAt(h) > h.changedAt) {
      this.#options.log?.(
        `account "${member.name}" could not be tried (the answer said nothing about its ` +
          "credentials): the next request tries it again",
      );
    }
    this.#setHealth(member, { ...h, retryAt: now, changedAt: now });
  }

  // ---- what happened upstream ----

  /** A call was sent with this account. */
  attempted(member: Member): void {
    const state = this.#options.state;
    if (state) state.day(member.name).requests++;
  }

  succeeded(member: Member): void {
    member.throttleStrikes = 0;
    member.throttledUntil = 0;
    const h = member.health;
    if (h.state === "rejected") {
      // A try after the back-off, or a call that was in flight when another was refused.
      member.trying = false;
      this.#setHealth(member, { state: "ok", reason: "try_ok", changedAt: this.#now() });
      this.#options.log?.(`account "${member.name}" answered again: back in service`);
    } else if (h.state === "cooling_down" || h.strikes) {
      this.#setHealth(member, { state: "ok", changedAt: this.#now() });
    }
  }

  /**
   * The upstream refused the call but took the credentials (a quota, a rate limit, a model it
   * does not allow): a rejected account is back in service, and the answer's own effect follows.
   */
  credentialsAccepted(member: Member): void {
    if (member.health.state !== "rejected") return;
    member.trying = false;
    this.#setHealth(member, { state: "ok", reason: "try_ok", changedAt: this.#now() });
    this.#options.log?.(
      `account "${member.name}" had its credentials accepted again: back in service`,
    );
  }

  usage(member: Member, usage: TokenUsage): void {
    const day = this.#options.state?.day(member.name);
    if (day) {
      day.prompt_tokens += usage.promptTokens;
      day.completion_tokens += usage.completionTokens;
    }
    this.#observer?.tokens(member.name, usage);
  }

  failed(member: Member, failure: string): void {
    const day = this.#options.state?.day(member.name);
    if (day) day.errors[failure] = (day.errors[failure] ?? 0) + 1;
    this.#observer?.upstreamError(member.name, failure);
  }

  /**
   * A quota answer: cooled down until `until` (the answer's reset time, see classify.ts), else
   * for 1 min doubling per repeat up to 1 h.
   */
  quota(member: Member, info: { until?: number; message: string }): number {
    const now = this.#now();
    member.trying = false;
    const strikes = (member.health.state === "cooling_down" ? member.health.strikes ?? 0 : 0) + 1;
    const until = info.until ??
      now + Math.min(QUOTA_BACKOFF_MAX_MS, QUOTA_BACKOFF_START_MS * 2 ** (strikes - 1));
    this.#setHealth(member, {
      state: "cooling_down",
      until,
      reason: "quota",
      message: info.message,
      strikes: info.until === undefined ? strikes : undefined,
      changedAt: now,
    });
    this.#options.log?.(
      `account "${member.name}" hit its quota: cooling down until ${new Date(until).toISOString()}`,
    );
    return until;
  }

  /** A throttling answer: the account goes last for a short while (Retry-After, else 2 s doubling). */
  throttled(member: Member, until: number | undefined): void {
    const now = this.#now();
    member.throttleStrikes++;
    member.throttledUntil = until ?? now + Math.min(
          THROTTLE_MAX_MS,
          THROTTLE_START_MS * 2 ** (member.throttleStrikes - 1),
        );
  }

  /**
   * The upstream refused the credentials (or the account is in arrears): skipped until they
   * change, or until a try after the back-off succeeds. Refused on a try, the back-off doubles.
   */
  rejected(member: Member, reason: string, message: string): void {
    const was = member.health;
    // A call that was in flight when the account was rejected tells nothing new.
    if (was.state === "rejected" && !member.trying) return;
    const tried = member.trying && was.state === "rejected";
    member.trying = false;
    const now = this.#now();
    const strikes = tried ? (was.strikes ?? 1) + 1 : 1;
    const retryAt = now + trialBackoff(strikes);
    const health: Health = { state: "rejected", reason, message, strikes, retryAt, changedAt: now };
    this.#setHealth(member, health);
    const next = `next try after ${new Date(retryAt).toISOString()}`;
    this.#options.log?.(
      tried
        ? `account "${member.name}" was refused again: ${message}; ${next}`
        : `account "${member.name}" was rejected by the upstream: ${message}; ${next}`,
    );
    const identity = this.#options.identity ?? identityOf;
    // Taken after the fact (the refresh that preceded a refusal is ours, not a new login).
    identity(member.entry).then((id) => {
      if (member.health === health) health.identity = id;
      this.#options.state?.setHealth(member.name, health);
    }, () => {});
  }

  #setHealth(member: Member, health: Health): void {
    member.health = health;
    this.#options.state?.setHealth(member.name, health);
  }

  // ---- when nobody can answer ----

  /** The soonest time a cooling account comes back, if any. */
  soonestRecovery(): number | undefined {
    let soonest: number | undefined;
    const now = this.#now();
    for (const m of this.members) {
      const h = m.health;
      if (h.state === "cooling_down" && (h.until ?? 0) > now) {
        if (soonest === undefined || h.until! < soonest) soonest = h.until;
      }
    }
    return soonest;
  }

  /**
   * Why no account can serve: none at all; some cooling account comes back by itself; or each
   * account's reason (`tokenErrors`: the accounts whose token could not be had, and why).
   */
  verdict(tokenErrors?: ReadonlyMap<Member, string>): Verdict {
    if (this.members.length === 0) return { kind: "no_accounts" };
    const soonest = this.soonestRecovery();
    if (soonest !== undefined) return { kind: "cooling", until: soonest };
    const reasons = this.members.map((m) => {
      const h = m.health;
      if (h.state === "rejected") {
        return `"${m.name}": ${
          h.reason === "arrears" ? "the account is in arrears" : "refused by the upstream"
        }${h.message ? ` (${h.message})` : ""}, tried again after ${
          new Date(nextTryAt(h)).toISOString()
        }`;
      }
      return `"${m.name}": ${tokenErrors?.get(m) ?? "not available"}`;
    });
    return { kind: "unusable", reasons };
  }

  /** Each account and whether it can take requests now (for metrics). */
  availability(): AccountAvailability[] {
    const now = this.#now();
    return this.members.map((m) => {
      const available = m.available(now);
      return { name: m.name, state: available ? "ok" : m.health.state, available };
    });
  }

  // ---- upkeep, off the hot path ----

  /** Every `intervalMs`: `maintain()`. `close()` stops it and writes the state a last time. */
  start(intervalMs: number): void {
    if (this.#timer !== undefined || this.#closed) return;
    this.#timer = setInterval(() => {
      this.maintain().catch((error) => {
        this.#options.log?.(`cannot update the account state: ${(error as Error).message}`);
      });
    }, intervalMs);
    (this.#timer as { unref?: () => void }).unref?.();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#maintaining?.catch(() => {});
    await this.#options.state?.sync().catch((error) => {
      this.#options.log?.(`cannot write the account state: ${(error as Error).message}`);
    });
  }

  /** Lists the accounts again, re-checks refused credentials, syncs the state file. One at a time. */
  maintain(): Promise<void> {
    if (this.#maintaining) return this.#maintaining;
    const run = this.#maintain().finally(() => {
      this.#maintaining = undefined;
    });
    this.#maintaining = run;
    return run;
  }

  /** `maintain()` begun from now: one already under way may have listed with older settings. */
  async maintainAfresh(): Promise<void> {
    await this.#maintaining?.catch(() => {});
    return await this.maintain();
  }

  async #maintain(): Promise<void> {
    const { list, state } = this.#options;
    const identity = this.#options.identity ?? identityOf;
    if (list) {
      this.#setEntries(await list());
      this.listed = true;
    }
    for (const m of this.members) {
      const h = m.health;
      if (h.state !== "rejected") continue;
      const id = await identity(m.entry).catch(() => undefined);
      if (h.identity === undefined) {
        h.identity = id;
        continue;
      }
      if (id !== h.identity) {
        this.#setHealth(m, { state: "ok", reason: "credentials_changed", changedAt: this.#now() });
        this.#options.log?.(`account "${m.name}" has new credentials: trying it again`);
      }
    }
    if (state) this.adopt(await state.sync());
    this.#observer?.accounts(this.availability());
  }

  /** Takes what other processes (or `qwen status --probe`) wrote, when newer than ours. */
  adopt(snapshot: StateSnapshot): void {
    for (const m of this.members) {
      const theirs = snapshot.accounts[m.name]?.health;
      if (theirs === undefined || theirs.changedAt <= m.health.changedAt) continue;
      const was = m.health.state;
      m.health = { ...theirs };
      if (was !== theirs.state && theirs.state === "ok") {
        this.#options.log?.(`account "${m.name}" is available again`);
      }
    }
  }

  /** A new strategy and `--model-map` (a reload): the accounts keep their state. */
  reconfigure(options: { strategy: Strategy; modelMap: Readonly<Record<string, string>> }): void {
    this.strategy = options.strategy;
    if (options.modelMap === this.#modelMap) return;
    this.#modelMap = options.modelMap;
    for (const m of this.members) {
      m.models = new ModelMap(m.entry.modelMap, options.modelMap, m.entry.coderModels);
    }
  }

  /** Whether some account sends `model` under another name (its ModelMap). */
  mapsModel(model: string): boolean {
    for (const m of this.members) {
      const mapped = m.models.get(model);
      if (mapped !== undefined && mapped !== model) return true;
    }
    return false;
  }

  #setEntries(entries: Account[]): void {
    const old = new Map(this.members.map((m) => [m.entry.id, m]));
    const overrides = this.#modelMap;
    const snapshot = this.#options.state?.snapshot;
    this.members = entries.map((entry) => {
      const existing = old.get(entry.id);
      if (existing) return existing;
      const member = new Member(entry, overrides);
      const saved = snapshot?.accounts[entry.name]?.health;
      if (saved) member.health = { ...saved };
      if (this.listed) this.#options.log?.(`account "${entry.name}" joined the pool`);
      return member;
    });
  }
}

/** 30 s for the first try, doubling with each failed one, up to 30 min. */
function trialBackoff(strikes: number): number {
  return Math.min(TRIAL_MAX_MS, TRIAL_START_MS * 2 ** (strikes - 1));
}

async function identityOf(account: Account): Promise<string | undefined> {
  return (await account.source.state()).identity;
}
