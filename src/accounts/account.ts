/**
 * Every account `qwen` can use, whatever its kind, as one record:
 *
 * | type    | where                             | name                                        |
 * |---------|-----------------------------------|---------------------------------------------|
 * | oauth   | `oauth_creds.json`                | `default`                                   |
 * | oauth   | `oauth_creds_<NAME>.json`         | NAME                                        |
 * | api_key | `qwen_key_<NAME>.json`            | NAME (the `--account` given, else preset)   |
 * | api_key | `DASHSCOPE_API_KEY` and the like  | `env-<preset>` (env-accounts.ts)            |
 *
 * Listing makes no network call: an account's `source` gives a token (refreshing an OAuth one
 * when it must) and `source.state()` says, from the file alone, whether it can be used. That one
 * inspection is what `qwen status`, `/health` and the pool read.
 */
import { listOAuthFiles } from "../credentials/accounts.ts";
import { DEFAULT_ACCOUNT } from "../credentials/paths.ts";
import { fileIdentity } from "../credentials/private-file.ts";
import { OAuthTokenSource } from "../credentials/token-source.ts";
import type { AccountStatus, TokenSource, UpstreamAuth } from "../credentials/types.ts";
import type { Fetch } from "../lib/context.ts";
import { credentialsError } from "../lib/errors.ts";
import { listApiKeyFiles, readApiKeyFile } from "./api-key-store.ts";
import { EnvKeyTokenSource, StoredKeyTokenSource } from "./api-key-source.ts";
import { ENV_ACCOUNT_PREFIX, type EnvAccount, listEnvAccounts } from "./env-accounts.ts";
import {
  type CoderModels,
  DEFAULT_CODER_MODELS,
  DEFAULT_MODEL_MAP,
  fingerprint,
  OAUTH_CODER_MODELS,
  type PresetName,
  PRESETS,
} from "./providers.ts";

/** `qwen-oauth` for OAuth accounts, else the API-key preset. */
type ProviderName = PresetName | "qwen-oauth";

export interface Account {
  /**
   * Stable across listings while name, type and origin stay, and for an environment key the key
   * and URL too: a pool keeps its member (and the member its token source) by it.
   */
  readonly id: string;
  readonly name: string;
  readonly type: "oauth" | "api_key";
  readonly origin: "file" | "env";
  /** `qwen-oauth`, a preset, or undefined for a key file that cannot be read. */
  readonly provider: ProviderName | undefined;
  /** The file behind it, or null for an environment key. */
  readonly file: string | null;
  /** The variable behind it, or null for a file. */
  readonly envVar: string | null;
  /**
   * The OAuth model names mapped to this provider's models (`coder-model` → `qwen3-coder-plus`
   * on API-key providers; empty for OAuth, whose portal knows the names itself).
   */
  readonly modelMap: Readonly<Record<string, string>>;
  /** What Claude's model names become on this provider (`claude-*haiku*` → `fast`). */
  readonly coderModels: CoderModels;
  readonly source: TokenSource;
}

interface AccountDeps {
  /** OAuth server for refreshes (`oauthBaseUrl(env)`). */
  oauthBaseUrl: string;
  fetch: Fetch;
  now?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Passed to OAuthTokenSource: refresh this long before expiry. */
  refreshAheadMs?: number;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Every account in `home` and `env`: OAuth files (default first), then stored keys, then
 * environment keys, each group by name. Accounts are listed even when unusable (an invalid file,
 * a malformed key): their `source.state()` says why.
 */
export async function listAccounts(home: string, env: Env, deps: AccountDeps): Promise<Account[]> {
  const accounts: Account[] = [];
  for (const { name, file } of await listOAuthFiles(home)) {
    const source = new OAuthTokenSource({
      path: file,
      account: name,
      oauthBaseUrl: deps.oauthBaseUrl,
      fetch: deps.fetch,
      now: deps.now,
      sleep: deps.sleep,
      refreshAheadMs: deps.refreshAheadMs,
    });
    accounts.push(account(name, "oauth", "qwen-oauth", { file }, {}, source));
  }
  const keyFiles = new Map<string, KeyFileSeen>();
  for (const { name, file } of await listApiKeyFiles(home)) {
    const seen = await keyFileProvider(file, keyFilesSeen.get(home)?.get(file));
    if (seen === undefined) continue; // Removed since the directory was read.
    keyFiles.set(file, seen);
    const provider = seen.provider;
    const source = new StoredKeyTokenSource(name, file);
    accounts.push(account(name, "api_key", provider, { file }, modelMapOf(provider), source));
  }
  if (keyFiles.size > 0) keyFilesSeen.set(home, keyFiles);
  else keyFilesSeen.delete(home);
  for (const key of listEnvAccounts(env)) {
    const source = key.problem || !key.key || !key.baseUrl
      ? new BrokenEnvKeySource(key, key.problem ?? "the key is unusable")
      : new EnvKeyTokenSource(key.name, key.key, key.baseUrl);
    // A new key in the variable (an env file read again) is a new source, so a new member.
    const version = digest(`${key.key ?? ""}\0${key.baseUrl ?? ""}\0${key.problem ?? ""}`);
    accounts.push(
      account(
        key.name,
        "api_key",
        key.provider,
        { envVar: key.envVar, version },
        modelMapOf(key.provider),
        source,
      ),
    );
  }
  return accounts;
}

/** What a listing learned of a key file (its provider), and the identity of the file it read. */
interface KeyFileSeen {
  identity: string | undefined;
  provider: PresetName | undefined;
}

/**
 * Per home, the key files of the last listing: `qwen serve` lists every 2 s, and a file (a
 * broken one may be megabytes) is read again only when its inode, mtime or size changed.
 */
const keyFilesSeen = new Map<string, Map<string, KeyFileSeen>>();

/** The key file's provider, read again only when the file changed; undefined when it is gone. */
async function keyFileProvider(
  file: string,
  before: KeyFileSeen | undefined,
): Promise<KeyFileSeen | undefined> {
  const identity = await fileIdentity(file);
  if (before !== undefined && identity !== undefined && identity === before.identity) {
    return before;
  }
  const read = await readApiKeyFile(file);
  if (read.kind === "missing") return undefined;
  return { identity, provider: read.kind === "ok" ? read.file.provider : undefined };
}

/** An account made in code rather than listed: a pool of one token source, a test. */
export function accountOf(
  source: TokenSource,
  options: { type?: Account["type"]; modelMap?: Readonly<Record<string, string>> } = {},
): Account {
  const type = options.type ?? "oauth";
  const provider = type === "oauth" ? "qwen-oauth" : undefined;
  return account(source.account, type, provider, {}, options.modelMap ?? {}, source);
}

/** The accounts named (all when none is), and the names no account has. */
export function selectAccounts(
  accounts: Account[],
  names: readonly string[] | undefined,
): { accounts: Account[]; unknown: string[] } {
  if (names === undefined || names.length === 0) return { accounts, unknown: [] };
  return {
    accounts: accounts.filter((a) => names.includes(a.name)),
    unknown: names.filter((n) => !accounts.some((a) => a.name === n)),
  };
}

/** Names that `qwen auth` must not give a new account: `default` and the `env-` prefix. */
export function reservedNameProblem(name: string, kind: "oauth" | "api_key"): string | undefined {
  if (name.startsWith(ENV_ACCOUNT_PREFIX)) {
    return `names starting with "${ENV_ACCOUNT_PREFIX}" are kept for keys from environment variables`;
  }
  if (kind === "api_key" && name === DEFAULT_ACCOUNT) {
    return `"${DEFAULT_ACCOUNT}" is the name of the OAuth login in oauth_creds.json`;
  }
  return undefined;
}

function account(
  name: string,
  type: Account["type"],
  provider: ProviderName | undefined,
  where: { file?: string; envVar?: string; version?: string },
  modelMap: Readonly<Record<string, string>>,
  source: TokenSource,
): Account {
  const file = where.file ?? null;
  const envVar = where.envVar ?? null;
  const origin = file === null ? "env" : "file";
  const id = `${name}\0${type}\0${file ?? ""}\0${envVar ?? ""}\0${where.version ?? ""}`;
  const coderModels = coderModelsOf(provider);
  return { id, name, type, origin, provider, file, envVar, modelMap, coderModels, source };
}

/** A short FNV-1a digest: tells two keys apart without an id holding either. */
function digest(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  }
  return hash.toString(16);
}

function modelMapOf(provider: PresetName | undefined): Readonly<Record<string, string>> {
  return provider ? PRESETS[provider].modelMap : DEFAULT_MODEL_MAP;
}

function coderModelsOf(provider: ProviderName | undefined): CoderModels {
  if (provider === "qwen-oauth") return OAUTH_CODER_MODELS;
  return provider ? PRESETS[provider].coderModels : DEFAULT_CODER_MODELS;
}

/** An environment key that cannot be used: every call says why. */
class BrokenEnvKeySource implements TokenSource {
  readonly account: string;
  readonly #key: EnvAccount;
  constructor(key: EnvAccount, private readonly problem: string) {
    this.account = key.name;
    this.#key = key;
  }
  getToken(): Promise<UpstreamAuth> {
    return Promise.reject(
      credentialsError(
        "invalid_credentials",
        `Cannot use account "${this.account}": ${this.problem}`,
      ),
    );
  }
  state(): Promise<AccountStatus> {
    const key = this.#key.key;
    return Promise.resolve({
      state: "invalid" as const,
      problem: this.problem,
      keyFingerprint: key ? fingerprint(key) : undefined,
    });
  }
}
