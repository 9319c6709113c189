/**
 * Hands out a usable OAuth access token for one credentials file, shared with the official Qwen
 * Code CLI and with other `qwen` processes:
 *
 * - the file is cached and re-read when it changes (checked with one `stat` at most every
 *   second, so `qwen serve` can call `getToken` per request);
 * - one refresh at a time within the process (a shared promise) and across processes (the
 *   official lock, lock.ts); after taking the lock the file is re-read, and when another
 *   process already refreshed, its token is used instead of refreshing again;
 * - a refused refresh (400/401) marks the account `needs_login` in memory until the file
 *   changes; the file is never deleted or rewritten for it;
 * - other refresh failures keep the file and are retried on a later call;
 * - refreshing ahead of expiry starts at most half way through a token's usable life, so a
 *   short-lived token is not refreshed on every request.
 */
import { stat } from "node:fs/promises";
import type { Fetch } from "../lib/context.ts";
import { credentialsError, ExitCode, QwenError } from "../lib/errors.ts";
import { withoutSecrets } from "../lib/text.ts";
import { refreshAccessToken, RefreshRejectedError } from "../oauth/client.ts";
import { baseUrlFromResourceUrl } from "./base-url.ts";
import { type LockOptions, withLock } from "./lock.ts";
import { DEFAULT_ACCOUNT, lockPathFor } from "./paths.ts";
import { fileIdentity } from "./private-file.ts";
import {
  EXPIRY_MARGIN_MS,
  type OAuthCredentials,
  readOAuthCredentials,
  type ReadResult,
  writeOAuthCredentials,
} from "./store.ts";
import type { AccountStatus, GetTokenOptions, TokenSource, UpstreamAuth } from "./types.ts";

interface OAuthTokenSourceOptions {
  /** The credentials file, e.g. `~/.qwen/oauth_creds.json`. */
  path: string;
  /** `default` for `oauth_creds.json`, NAME for `oauth_creds_<NAME>.json`. */
  account: string;
  /** OAuth server, e.g. `https://chat.qwen.ai` (`QWEN_OAUTH_BASE_URL`). */
  oauthBaseUrl: string;
  fetch: Fetch;
  /** Wall clock in ms (expiry). Default `Date.now`. */
  now?: () => number;
  /**
   * Refresh this long before the official validity ends (`expiry_date` − 30 s), or half way
   * through the token's usable life when that comes later. Default 0.
   */
  refreshAheadMs?: number;
  /** Waits between lock attempts; tests pass a fast one. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** At most one `stat` of the file per this many ms on the hot path. Default 1000. */
  statIntervalMs?: number;
  /** After a failed refresh ahead of expiry, wait this long before trying again. Default 10 s. */
  retryAheadAfterMs?: number;
  /** Lock tuning (attempts, delays); tests only. */
  lock?: Pick<LockOptions, "attempts" | "initialDelayMs" | "maxDelayMs" | "staleMs">;
  /** Tests only: where the lock goes instead of beside the file, as the official CLI puts it. */
  lockPath?: string;
}

interface RefreshResult {
  credentials: OAuthCredentials;
  /** False when the token was already usable, e.g. another process refreshed it. */
  refreshed: boolean;
}

interface Snapshot {
  read: ReadResult;
  /** inode, mtime and size: an atomic rename always changes the inode. */
  identity?: string;
  /** The credentials as an UpstreamAuth, built once per read. */
  auth?: UpstreamAuth;
  /**
   * When the token was issued, as far as we can tell: our own refresh's time, or the file's
   * mtime (whoever refreshed wrote the file right away). A wrong guess only moves the
   * refresh within the refresh-ahead window, never past the token's validity.
   */
  issuedAt?: number;
}

interface Flight {
  promise: Promise<RefreshResult>;
  controller: AbortController;
  waiters: number;
  /** The access token this flight was asked to replace, for forced refreshes. */
  rejected?: string;
}

export class OAuthTokenSource implements TokenSource {
  readonly account: string;
  readonly path: string;
  readonly lockPath: string;
  readonly #options: OAuthTokenSourceOptions;
  readonly #now: () => number;
  readonly #refreshAheadMs: number;
  readonly #statIntervalMs: number;
  readonly #retryAheadAfterMs: number;
  #cache?: Snapshot;
  #checkedAt = -Infinity;
  /** Set when the server refused the refresh token of the file with this identity. */
  #needsLogin?: { identity?: string; reason: string };
  #flight?: Flight;
  #retryAheadAt = 0;

  constructor(options: OAuthTokenSourceOptions) {
    this.#options = options;
    this.account = options.account;
    this.path = options.path;
    this.lockPath = options.lockPath ?? lockPathFor(options.path);
    this.#now = options.now ?? Date.now;
    this.#refreshAheadMs = Math.max(0, options.refreshAheadMs ?? 0);
    this.#statIntervalMs = options.statIntervalMs ?? 1_000;
    this.#retryAheadAfterMs = options.retryAheadAfterMs ?? 10_000;
  }

  /** `now < expiry_date − 30 s`: the official CLI's rule. */
  isValid(credentials: OAuthCredentials): boolean {
    return this.#now() < credentials.expiry_date - EXPIRY_MARGIN_MS;
  }

  /**
   * Valid, and not yet inside the refresh-ahead window: `refreshAheadMs`, or half the usable
   * life of a token issued at `issuedAt` when that is shorter (a token that lives 2 minutes
   * would otherwise be refreshed on every request).
   */
  isFresh(credentials: OAuthCredentials, issuedAt?: number): boolean {
    const validUntil = credentials.expiry_date - EXPIRY_MARGIN_MS;
    const halfLife = issuedAt === undefined ? Infinity : Math.max(0, validUntil - issuedAt) / 2;
    return this.#now() < validUntil - Math.min(this.#refreshAheadMs, halfLife);
  }

  peekToken(): UpstreamAuth | undefined {
    const snapshot = this.#cache;
    if (
      snapshot === undefined || snapshot.read.kind !== "ok" || this.#needsLogin !== undefined ||
      performance.now() - this.#checkedAt >= this.#statIntervalMs ||
      !this.isFresh(snapshot.read.credentials, snapshot.issuedAt)
    ) {
      return undefined;
    }
    return authOf(snapshot, snapshot.read.credentials);
  }

  async getToken(
    options: GetTokenOptions = {},
  ): Promise<UpstreamAuth> {
    const snapshot = await this.#load();
    const credentials = this.#require(snapshot);
    if (this.#isNeedsLogin(snapshot)) {
      // A dead refresh token: the access token may still work until it expires.
      if (!options.forceRefresh && this.isValid(credentials)) return authOf(snapshot, credentials);
      throw this.#needsLoginError();
    }
    if (!options.forceRefresh) {
      if (this.isFresh(credentials, snapshot.issuedAt)) return authOf(snapshot, credentials);
      if (this.isValid(credentials) && this.#now() < this.#retryAheadAt) {
        return authOf(snapshot, credentials);
      }
    }
    const rejected = options.forceRefresh
      ? (options.rejectedToken ?? credentials.access_token)
      : undefined;
    try {
      const result = await this.#refreshShared(rejected, options.signal);
      return toAuth(result.credentials);
    } catch (error) {
      if (options.signal?.aborted || !(error instanceof QwenError)) throw error;
      // The new token is in memory though the disk refused it: this process goes on with it.
      const kept = this.#cache?.read;
      if (error.code === "credentials_write_failed" && kept?.kind === "ok") {
        return toAuth(kept.credentials);
      }
      // Refreshing ahead of time failed, whatever the cause (the network, the server, a lock
      // that cannot be created on a full disk): the token in hand still works for a while.
      if (!options.forceRefresh && this.isValid(credentials)) {
        if (error.code !== "needs_login") {
          this.#retryAheadAt = this.#now() + this.#retryAheadAfterMs;
        }
        return toAuth(credentials);
      }
      throw error;
    }
  }

  /**
   * Makes the token usable, refreshing through the lock when it is not (or always, with
   * `force`). For `qwen status --refresh` and `qwen auth`. Throws like `getToken`.
   */
  async refresh(options: { force?: boolean; signal?: AbortSignal } = {}): Promise<RefreshResult> {
    const snapshot = await this.#load(true);
    const credentials = this.#require(snapshot);
    if (this.#isNeedsLogin(snapshot)) throw this.#needsLoginError();
    if (!options.force && this.isFresh(credentials, snapshot.issuedAt)) {
      return { credentials, refreshed: false };
    }
    return await this.#refreshShared(
      options.force ? credentials.access_token : undefined,
      options.signal,
    );
  }

  /** The state as of now, from the file (re-read when it changed); no network. */
  async state(): Promise<AccountStatus> {
    const snapshot = await this.#load();
    const read = snapshot.read;
    switch (read.kind) {
      case "missing":
        return { state: "missing", problem: `no file "${read.path}"` };
      case "invalid":
      case "unreadable":
        return { state: "invalid", problem: read.problem };
    }
    const c = read.credentials;
    const base = {
      identity: snapshot.identity,
      expiryDate: c.expiry_date,
      resourceUrl: c.resource_url,
      baseUrl: baseUrlFromResourceUrl(c.resource_url),
    };
    if (this.#isNeedsLogin(snapshot)) {
      return { state: "needs_login", problem: this.#needsLogin!.reason, ...base };
    }
    return { state: this.isValid(c) ? "valid" : "expired", ...base };
  }

  // ---- file cache ----

  async #load(force = false): Promise<Snapshot> {
    const clock = performance.now();
    if (!force && this.#cache && clock - this.#checkedAt < this.#statIntervalMs) {
      return this.#cache;
    }
    const identity = await fileIdentity(this.path);
    this.#checkedAt = clock;
    if (this.#cache && identity !== undefined && identity === this.#cache.identity) {
      return this.#cache;
    }
    const read = await readOAuthCredentials(this.path);
    // Identity taken before the read: if the file changed in between, the next stat re-reads.
    this.#cache = {
      read,
      identity: read.kind === "missing" ? undefined : identity,
      issuedAt: read.kind === "ok" ? await this.#writtenAt() : undefined,
    };
    if (this.#needsLogin && this.#needsLogin.identity !== this.#cache.identity) {
      this.#needsLogin = undefined; // The file changed: a new login, or a refresh elsewhere.
    }
    return this.#cache;
  }

  /** The file's mtime, never later than now (a clock ahead, or a test's clock). */
  async #writtenAt(): Promise<number | undefined> {
    try {
      return Math.min((await stat(this.path)).mtimeMs, this.#now());
    } catch {
      return undefined;
    }
  }

  #isNeedsLogin(snapshot: Snapshot): boolean {
    return this.#needsLogin !== undefined && this.#needsLogin.identity === snapshot.identity;
  }

  #require(snapshot: Snapshot): OAuthCredentials {
    const read = snapshot.read;
    switch (read.kind) {
      case "ok":
        return read.credentials;
      case "missing":
        throw credentialsError(
          "no_credentials",
          `Cannot find Qwen credentials "${read.path}": run "${this.#authCommand()}" to log in`,
        );
      default:
        throw credentialsError(
          "invalid_credentials",
          `Cannot use the Qwen credentials "${read.path}": ${read.problem}; run "${this.#authCommand()}" to log in again`,
        );
    }
  }

  #authCommand(): string {
    return this.account === DEFAULT_ACCOUNT ? "qwen auth" : `qwen auth --account ${this.account}`;
  }

  #needsLoginError(): QwenError {
    const reason = this.#needsLogin?.reason ?? "the refresh token was refused";
    return credentialsError(
      "needs_login",
      `Qwen refused the login of account "${this.account}" (${reason}): run "${this.#authCommand()}" to log in again`,
    );
  }

  // ---- refresh ----

  /** One refresh at a time in this process; callers join the flight in progress. */
  async #refreshShared(rejected: string | undefined, signal?: AbortSignal): Promise<RefreshResult> {
    let flight = this.#flight;
    if (!flight) flight = this.#startFlight(rejected);
    const result = await joinFlight(flight, signal);
    // A forced refresh that joined a flight which kept the very token that was refused.
    if (rejected !== undefined && result.credentials.access_token === rejected) {
      return await joinFlight(this.#flight ?? this.#startFlight(rejected), signal);
    }
    return result;
  }

  #startFlight(rejected: string | undefined): Flight {
    const controller = new AbortController();
    const flight: Flight = {
      controller,
      waiters: 0,
      rejected,
      promise: this.#refreshLocked(rejected, controller.signal).finally(() => {
        if (this.#flight === flight) this.#flight = undefined;
      }),
    };
    flight.promise.catch(() => {}); // Waiters see the error; nobody else must.
    this.#flight = flight;
    return flight;
  }

  async #refreshLocked(rejected: string | undefined, signal: AbortSignal): Promise<RefreshResult> {
    return await withLock(this.lockPath, async () => {
      // Re-read under the lock: another process may have refreshed already.
      const snapshot = await this.#load(true);
      const current = this.#require(snapshot);
      if (this.#isNeedsLogin(snapshot)) throw this.#needsLoginError();
      if (
        rejected === undefined ? this.isFresh(current, snapshot.issuedAt) : (
          current.access_token !== rejected && this.isValid(current)
        )
      ) {
        return { credentials: current, refreshed: false };
      }
      return { credentials: await this.#refreshNow(current, snapshot), refreshed: true };
    }, { ...this.#options.lock, sleep: this.#options.sleep, signal });
  }

  /** The refresh request itself. Not cancellable once sent: the server may rotate the token. */
  async #refreshNow(current: OAuthCredentials, snapshot: Snapshot): Promise<OAuthCredentials> {
    let token;
    try {
      token = await refreshAccessToken(
        { baseUrl: this.#options.oauthBaseUrl, fetch: this.#options.fetch },
        current.refresh_token,
      );
    } catch (error) {
      // The OAuth server's words are quoted on: never with a token of this login in them.
      const secrets = [current.refresh_token, current.access_token];
      if (error instanceof RefreshRejectedError) {
        this.#needsLogin = {
          identity: snapshot.identity,
          reason: withoutSecrets(error.message, secrets),
        };
        throw this.#needsLoginError();
      }
      const detail = withoutSecrets(
        error instanceof Error ? error.message : String(error),
        secrets,
      );
      throw new QwenError(
        `Cannot refresh the Qwen token of account "${this.account}": ${detail}; the credentials are kept and the refresh is retried on the next request`,
        { code: "refresh_failed", status: 502, exitCode: ExitCode.failure, cause: error },
      );
    }
    const issuedAt = this.#now();
    const next: OAuthCredentials = {
      ...current,
      access_token: token.access_token,
      token_type: token.token_type,
      // A refresh answer without these keeps the old values (the official client loses them).
      refresh_token: token.refresh_token ?? current.refresh_token,
      expiry_date: issuedAt + token.expires_in * 1000,
    };
    const resourceUrl = token.resource_url ?? current.resource_url;
    if (resourceUrl !== undefined) next.resource_url = resourceUrl;
    try {
      await writeOAuthCredentials(this.path, next);
    } catch (error) {
      // The old refresh token is spent: keep the new one in memory so this process still works.
      this.#cache = {
        read: { kind: "ok", path: this.path, credentials: next },
        identity: snapshot.identity,
        issuedAt,
      };
      throw new QwenError(
        `Cannot save the refreshed Qwen credentials "${this.path}": ${
          (error as Error).message ?? error
        }; this process keeps using them, but other programs will need "${this.#authCommand()}"`,
        { code: "credentials_write_failed", status: 500, exitCode: ExitCode.failure },
      );
    }
    const identity = await fileIdentity(this.path);
    this.#cache = {
      read: { kind: "ok", path: this.path, credentials: next },
      identity,
      issuedAt,
    };
    this.#checkedAt = performance.now();
    this.#needsLogin = undefined;
    return next;
  }
}

function authOf(snapshot: Snapshot, credentials: OAuthCredentials): UpstreamAuth {
  return snapshot.auth ??= toAuth(credentials);
}

function toAuth(credentials: OAuthCredentials): UpstreamAuth {
  return {
    token: credentials.access_token,
    baseUrl: baseUrlFromResourceUrl(credentials.resource_url),
    kind: "oauth",
    otherSecrets: [credentials.refresh_token],
  };
}

/**
 * Waits for a flight with the caller's own signal. The flight's lock wait is aborted only when
 * every waiter has given up; the refresh request, once sent, always finishes.
 */
function joinFlight(flight: Flight, signal?: AbortSignal): Promise<RefreshResult> {
  flight.waiters++;
  if (!signal) return flight.promise;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      flight.waiters--;
      if (flight.waiters === 0) flight.controller.abort(signal.reason);
      reject(signal.reason);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    flight.promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
