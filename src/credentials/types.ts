/**
 * What `serve`, `status` and `auth` need from an account, whatever kind it is. The OAuth
 * implementation is `OAuthTokenSource` (token-source.ts); API-key accounts implement it too.
 */

/** What it takes to call the model API as this account. */
export interface UpstreamAuth {
  /** The bearer credential: an OAuth access token or an API key. Never log it. */
  token: string;
  /** Model API base, e.g. `https://portal.qwen.ai/v1` (no trailing slash). */
  baseUrl: string;
  kind: "oauth" | "api_key";
  /**
   * The account's other credentials (an OAuth login's refresh token): never sent to the model
   * API, only blanked out of what it answers, should it quote one back.
   */
  otherSecrets?: readonly string[];
}

export type AccountState =
  /** Usable now without a network call. */
  | "valid"
  /** Access token expired, refresh token present: a refresh may bring it back. */
  | "expired"
  /** The file exists but cannot be used (not JSON, wrong types, missing fields, unreadable). */
  | "invalid"
  /** No credentials file. */
  | "missing"
  /** The server refused the refresh token: only `qwen auth` helps. */
  | "needs_login";

/** What an account's credentials say as of now, from its file or variable alone. */
export interface AccountStatus {
  state: AccountState;
  /** Why the account cannot be used, for `invalid`, `missing` and `needs_login`. */
  problem?: string;
  /** OAuth: when the access token expires (ms since the epoch). */
  expiryDate?: number;
  /** OAuth: the token answer's `resource_url`. */
  resourceUrl?: string;
  /** The model API base the account calls. */
  baseUrl?: string;
  /** API keys: `sk-sp-…9f2c`, never the key. */
  keyFingerprint?: string;
  /**
   * Changes whenever the credentials do (a new login, a new key): the file's inode, mtime and
   * size, or for an environment key its fingerprint and URL. A refused account is tried again
   * once it moves.
   */
  identity?: string;
}

export interface GetTokenOptions {
  /** Refresh even if the token looks valid: the upstream just refused it. */
  forceRefresh?: boolean;
  /**
   * The token the upstream refused. When the file already holds a different one (another
   * request or process refreshed meanwhile), that one is used instead of refreshing again.
   */
  rejectedToken?: string;
  signal?: AbortSignal;
}

export interface TokenSource {
  /** Account name: `default` for `oauth_creds.json`, NAME for `oauth_creds_<NAME>.json`. */
  readonly account: string;
  /**
   * A usable token, refreshed first when it expires soon (or always with `forceRefresh`, used
   * after the upstream refused a token). Throws a QwenError: code `no_credentials` (401),
   * `invalid_credentials` (500), `needs_login` (401) or a transient refresh failure (502).
   */
  getToken(options?: GetTokenOptions): Promise<UpstreamAuth>;
  /**
   * The token `getToken()` would give right now when that needs no I/O and no refresh (the file
   * was checked within its interval and the token is fresh); undefined otherwise. Lets the
   * request path skip a promise per call.
   */
  peekToken?(): UpstreamAuth | undefined;
  /** The state as of now, from the file (re-read when its mtime changed), without network. */
  state(): Promise<AccountStatus>;
}
