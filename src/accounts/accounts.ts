/**
 * Every account `qwen` can use, whatever its kind, under one name each:
 *
 * | kind    | where                             | name                                        |
 * |---------|-----------------------------------|---------------------------------------------|
 * | oauth   | `oauth_creds.json`                | `default`                                   |
 * | oauth   | `oauth_creds_<NAME>.json`         | NAME                                        |
 * | api_key | `qwen_key_<NAME>.json`            | NAME (the `--account` given, else preset)   |
 * | api_key | `DASHSCOPE_API_KEY` and the like  | `env-<preset>` (env-accounts.ts)            |
 *
 * `listAccounts` only lists (no network, no token sources); `openAccount` (open.ts) turns an
 * entry into what `qwen serve` and `qwen status --probe` call the upstream with.
 */
import { compareAccounts, listOAuthAccounts } from "../credentials/accounts.ts";
import { DEFAULT_ACCOUNT } from "../credentials/paths.ts";
import { type KeyReadResult, listApiKeyFiles, readApiKeyFile } from "./api-key-store.ts";
import { ENV_ACCOUNT_PREFIX, type EnvAccount, listEnvAccounts } from "./env-accounts.ts";
import { fingerprint, type PresetName } from "./providers.ts";

/** `qwen-oauth` for OAuth accounts, else the API-key preset. */
export type ProviderName = PresetName | "qwen-oauth";

export type AccountEntry =
  | { kind: "oauth"; origin: "file"; name: string; file: string }
  | {
    kind: "api_key";
    origin: "file";
    name: string;
    file: string;
    /** The file as read while listing (the token source re-reads it when it changes). */
    read: KeyReadResult;
  }
  | { kind: "api_key"; origin: "env"; name: string; env: EnvAccount };

/**
 * Every account in `home` and `env`: OAuth files (default first), then stored keys, then
 * environment keys, each group by name. Entries are listed even when unusable (an invalid file,
 * a malformed key): callers report them.
 */
export async function listAccounts(
  home: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<AccountEntry[]> {
  const oauth = await listOAuthAccounts(home);
  const keys = await listApiKeyFiles(home);
  const entries: AccountEntry[] = oauth.map((a) => ({
    kind: "oauth" as const,
    origin: "file" as const,
    name: a.name,
    file: a.file,
  }));
  for (const key of keys) {
    const read = await readApiKeyFile(key.file);
    if (read.kind === "missing") continue; // Removed since the directory was read.
    entries.push({ kind: "api_key", origin: "file", name: key.name, file: key.file, read });
  }
  for (const account of listEnvAccounts(env)) {
    entries.push({ kind: "api_key", origin: "env", name: account.name, env: account });
  }
  return entries;
}

/** Entries named `name` (several when files of two kinds share it). */
export function findAccounts(entries: AccountEntry[], name: string): AccountEntry[] {
  return entries.filter((e) => e.name === name);
}

/** The provider of an entry, or undefined for a key file that cannot be read. */
export function providerOf(entry: AccountEntry): ProviderName | undefined {
  if (entry.kind === "oauth") return "qwen-oauth";
  if (entry.origin === "env") return entry.env.provider;
  return entry.read.kind === "ok" ? entry.read.file.provider : undefined;
}

/** `sk-sp-…9f2c` for a readable key, else undefined (never for OAuth). */
export function keyFingerprintOf(entry: AccountEntry): string | undefined {
  if (entry.kind === "oauth") return undefined;
  if (entry.origin === "env") return entry.env.key ? fingerprint(entry.env.key) : undefined;
  return entry.read.kind === "ok" ? fingerprint(entry.read.file.api_key) : undefined;
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

export function sortEntries(entries: AccountEntry[]): AccountEntry[] {
  const rank = (e: AccountEntry) => (e.kind === "oauth" ? 0 : e.origin === "file" ? 1 : 2);
  return [...entries].sort((a, b) => rank(a) - rank(b) || compareAccounts(a, b));
}
