/**
 * The TokenSource of an API-key account: a key file in QWEN_HOME (re-read when it changes, so a
 * new key replaces a refused one without a restart) or a key from the environment (fixed for
 * the life of the process). Keys are never refreshed: `forceRefresh` returns the same key.
 */
import { fileIdentity } from "../credentials/private-file.ts";
import type { AccountStatus, TokenSource, UpstreamAuth } from "../credentials/types.ts";
import { credentialsError } from "../lib/errors.ts";
import { type KeyReadResult, readApiKeyFile } from "./api-key-store.ts";
import { fingerprint } from "./providers.ts";

/** A key given by an environment variable. */
export class EnvKeyTokenSource implements TokenSource {
  constructor(
    readonly account: string,
    private readonly key: string,
    private readonly baseUrl: string,
  ) {}

  #auth?: UpstreamAuth;

  getToken(): Promise<UpstreamAuth> {
    return Promise.resolve(this.peekToken());
  }

  peekToken(): UpstreamAuth {
    return this.#auth ??= { token: this.key, baseUrl: this.baseUrl, kind: "api_key" };
  }

  state(): Promise<AccountStatus> {
    return Promise.resolve({
      state: "valid",
      baseUrl: this.baseUrl,
      keyFingerprint: fingerprint(this.key),
      identity: `env:${fingerprint(this.key)}:${this.baseUrl}`,
    });
  }
}

/** A key stored in `qwen_key_<NAME>.json`; the file is stat'ed at most once per interval. */
export class StoredKeyTokenSource implements TokenSource {
  #cache?: KeyReadResult;
  /** The key of `#cache` as an UpstreamAuth; reset whenever the file is read again. */
  #auth?: UpstreamAuth;
  #identity?: string;
  #checkedAt = -Infinity;

  constructor(
    readonly account: string,
    readonly path: string,
    private readonly options: { statIntervalMs?: number } = {},
  ) {}

  peekToken(): UpstreamAuth | undefined {
    const read = this.#cache;
    if (read?.kind !== "ok") return undefined;
    if (performance.now() - this.#checkedAt >= (this.options.statIntervalMs ?? 1_000)) {
      return undefined;
    }
    return this.#authOf(read);
  }

  async getToken(): Promise<UpstreamAuth> {
    const read = await this.#load();
    switch (read.kind) {
      case "ok":
        return this.#authOf(read);
      case "missing":
        throw credentialsError(
          "no_credentials",
          `Cannot find the API key file "${read.path}": run "qwen auth --provider PRESET --account ${this.account}" to store a key`,
        );
      default:
        throw credentialsError(
          "invalid_credentials",
          `Cannot use the API key file "${read.path}": ${read.problem}; run "qwen auth --provider PRESET --account ${this.account} --force" to store the key again`,
        );
    }
  }

  async state(): Promise<AccountStatus> {
    const read = await this.#load();
    switch (read.kind) {
      case "missing":
        return { state: "missing", problem: `no file "${read.path}"` };
      case "invalid":
      case "unreadable":
        return { state: "invalid", problem: read.problem };
    }
    return {
      state: "valid",
      baseUrl: read.file.base_url,
      keyFingerprint: fingerprint(read.file.api_key),
      identity: read.identity,
    };
  }

  #authOf(read: Extract<KeyReadResult, { kind: "ok" }>): UpstreamAuth {
    return this.#auth ??= {
      token: read.file.api_key,
      baseUrl: read.file.base_url,
      kind: "api_key",
    };
  }

  async #load(): Promise<KeyReadResult> {
    const clock = performance.now();
    const interval = this.options.statIntervalMs ?? 1_000;
    if (this.#cache && clock - this.#checkedAt < interval) return this.#cache;
    this.#checkedAt = clock;
    const identity = await fileIdentity(this.path);
    if (this.#cache && identity !== undefined && identity === this.#identity) return this.#cache;
    this.#cache = await readApiKeyFile(this.path);
    this.#auth = undefined;
    this.#identity = identity;
    return this.#cache;
  }
}
