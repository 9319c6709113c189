/** A TokenSource fake for the server tests: hands out tokens in order and counts refreshes. */
import type { AccountState, TokenSource, UpstreamAuth } from "../../src/credentials/types.ts";
import { QwenError } from "../../src/lib/errors.ts";

export class FakeTokenSource implements TokenSource {
  readonly account = "default";
  /** Tokens given out: index 0 first, each forced refresh moves to the next. */
  tokens: string[];
  baseUrl: string;
  kind: UpstreamAuth["kind"];
  current: AccountState;
  index = 0;
  calls = 0;
  forcedRefreshes = 0;
  /** What a forced refresh throws instead of rotating (e.g. the login is dead). */
  refreshError?: QwenError;

  constructor(options: {
    baseUrl: string;
    tokens?: string[];
    kind?: UpstreamAuth["kind"];
    state?: AccountState;
  }) {
    this.baseUrl = options.baseUrl;
    this.tokens = options.tokens ?? ["token-1", "token-2", "token-3"];
    this.kind = options.kind ?? "oauth";
    this.current = options.state ?? "valid";
  }

  getToken(options: { forceRefresh?: boolean; signal?: AbortSignal } = {}): Promise<UpstreamAuth> {
    this.calls++;
    if (this.current === "missing") {
      return Promise.reject(
        new QwenError("No credentials file", { status: 401, code: "no_credentials" }),
      );
    }
    if (this.current === "needs_login") {
      return Promise.reject(new QwenError("Login dead", { status: 401, code: "needs_login" }));
    }
    if (options.forceRefresh) {
      this.forcedRefreshes++;
      if (this.refreshError) return Promise.reject(this.refreshError);
      this.index = Math.min(this.index + 1, this.tokens.length - 1);
    }
    return Promise.resolve({
      token: this.tokens[this.index],
      baseUrl: this.baseUrl,
      kind: this.kind,
    });
  }

  state(): Promise<{ state: AccountState; problem?: string; expiryDate?: number }> {
    return Promise.resolve({ state: this.current });
  }
}
