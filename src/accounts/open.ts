/**
 * Accounts opened for use: what `qwen serve` builds its pool from and `qwen status --probe`
 * calls with. Each one is a `TokenSource` plus the provider's metadata (kind, provider, model
 * map, where it came from).
 */
import type { Fetch } from "../lib/context.ts";
import { OAuthTokenSource } from "../credentials/token-source.ts";
import type { UpstreamAuth } from "../credentials/types.ts";
import { ExitCode, QwenError } from "../lib/errors.ts";
import {
  type AccountEntry,
  findAccounts,
  listAccounts,
  type ProviderName,
  providerOf,
} from "./accounts.ts";
import {
  type ApiKeyTokenSource,
  EnvKeyTokenSource,
  StoredKeyTokenSource,
} from "./api-key-source.ts";
import { DEFAULT_MODEL_MAP, isAlibabaHost, type PresetName, PRESETS } from "./providers.ts";

/** The official client's model names on the OAuth portal need no mapping. */
export const OAUTH_MODEL_MAP: Readonly<Record<string, string>> = Object.freeze({});

/** One account ready to call the upstream with. */
export interface Account {
  name: string;
  type: "oauth" | "api_key";
  origin: "file" | "env";
  /** `qwen-oauth`, a preset, or undefined for a key file that cannot be read. */
  provider: ProviderName | undefined;
  /** The file behind it, or null for an environment key. */
  file: string | null;
  /** The variable behind it, or null for a file. */
  envVar: string | null;
  /**
   * The OAuth model names mapped to this provider's models (`coder-model` → `qwen3-coder-plus`
   * on API-key providers; empty for OAuth, whose portal knows the names itself).
   */
  modelMap: Readonly<Record<string, string>>;
  /** A token and base URL per call; `OAuthTokenSource` or an `ApiKeyTokenSource`. */
  source: OAuthTokenSource | ApiKeyTokenSource;
}

export interface OpenAccountDeps {
  /** OAuth server for refreshes (`oauthBaseUrl(env)`). */
  oauthBaseUrl: string;
  fetch: Fetch;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Passed to OAuthTokenSource: refresh this long before expiry. */
  refreshAheadMs?: number;
}

export function openAccount(entry: AccountEntry, deps: OpenAccountDeps): Account {
  if (entry.kind === "oauth") {
    return {
      name: entry.name,
      type: "oauth",
      origin: "file",
      provider: "qwen-oauth",
      file: entry.file,
      envVar: null,
      modelMap: OAUTH_MODEL_MAP,
      source: new OAuthTokenSource({
        path: entry.file,
        account: entry.name,
        oauthBaseUrl: deps.oauthBaseUrl,
        fetch: deps.fetch,
        now: deps.now,
        sleep: deps.sleep,
        refreshAheadMs: deps.refreshAheadMs,
      }),
    };
  }
  const provider = providerOf(entry) as PresetName | undefined;
  const modelMap = provider ? PRESETS[provider].modelMap : DEFAULT_MODEL_MAP;
  if (entry.origin === "env") {
    const env = entry.env;
    return {
      name: entry.name,
      type: "api_key",
      origin: "env",
      provider,
      file: null,
      envVar: env.envVar,
      modelMap,
      source: env.problem || !env.key || !env.baseUrl
        ? new BrokenEnvKeySource(entry.name, env.problem ?? "the key is unusable")
        : new EnvKeyTokenSource(entry.name, env.key, env.baseUrl),
    };
  }
  return {
    name: entry.name,
    type: "api_key",
    origin: "file",
    provider,
    file: entry.file,
    envVar: null,
    modelMap,
    source: new StoredKeyTokenSource(entry.name, entry.file),
  };
}

/**
 * Every account (or those named), opened. For `qwen serve`: build the pool from `accounts`,
 * skip those whose `source.state()` is not `valid`/`expired`, and report `unknown` names.
 */
export async function loadAccounts(
  home: string,
  env: Readonly<Record<string, string | undefined>>,
  deps: OpenAccountDeps,
  names?: readonly string[],
): Promise<{ accounts: Account[]; unknown: string[] }> {
  const entries = await listAccounts(home, env);
  if (names === undefined || names.length === 0) {
    return { accounts: entries.map((e) => openAccount(e, deps)), unknown: [] };
  }
  const unknown = names.filter((n) => findAccounts(entries, n).length === 0);
  const wanted = entries.filter((e) => names.includes(e.name));
  return { accounts: wanted.map((e) => openAccount(e, deps)), unknown };
}

/**
 * Headers an API-key call adds to `authHeaders` (src/upstream/headers.ts): Alibaba's hosts get
 * `X-DashScope-CacheControl: enable`, as the official client sends.
 */
export function apiKeyExtraHeaders(auth: UpstreamAuth): Record<string, string> {
  return auth.kind === "api_key" && isAlibabaHost(auth.baseUrl)
    ? { "x-dashscope-cachecontrol": "enable" }
    : {};
}

/** An environment key that cannot be used: every call says why. */
class BrokenEnvKeySource implements ApiKeyTokenSource {
  readonly kind = "api_key" as const;
  constructor(readonly account: string, private readonly problem: string) {}
  getToken(): Promise<UpstreamAuth> {
    return Promise.reject(
      new QwenError(`Cannot use account "${this.account}": ${this.problem}`, {
        code: "invalid_credentials",
        status: 500,
        exitCode: ExitCode.failure,
      }),
    );
  }
  state() {
    return Promise.resolve({ state: "invalid" as const, problem: this.problem });
  }
}
