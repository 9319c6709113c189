/**
 * Accounts given only by environment variables, so that a systemd `EnvironmentFile` is enough:
 * each key variable forms the account `env-<preset>` of its international preset, and its
 * `*_BASE_URL` variable, when set, overrides the preset's URL.
 *
 * | variable                      | account              | URL override                   |
 * |-------------------------------|----------------------|--------------------------------|
 * | `BAILIAN_CODING_PLAN_API_KEY` | `env-coding-plan`    | `BAILIAN_CODING_PLAN_BASE_URL` |
 * | `BAILIAN_TOKEN_PLAN_API_KEY`  | `env-token-plan`     | `BAILIAN_TOKEN_PLAN_BASE_URL`  |
 * | `DASHSCOPE_API_KEY`           | `env-dashscope`      | `DASHSCOPE_BASE_URL`           |
 * | `OPENROUTER_API_KEY`          | `env-openrouter`     | `OPENROUTER_BASE_URL`          |
 */
import { QwenError } from "../lib/errors.ts";
import {
  keyProblem,
  normalizeBaseUrl,
  PRESET_NAMES,
  type PresetName,
  PRESETS,
} from "./providers.ts";

export const ENV_ACCOUNT_PREFIX = "env-";

export interface EnvAccount {
  name: string;
  provider: PresetName;
  /** The variable holding the key. */
  envVar: string;
  /** Set when the key or its URL is unusable; `key` and `baseUrl` may then be absent. */
  problem?: string;
  key?: string;
  baseUrl?: string;
}

/**
 * The environment accounts present in `env`. A variable that is unset or blank forms none; a
 * malformed key or base URL forms an account with a `problem` (reported, never used).
 */
export function listEnvAccounts(env: Readonly<Record<string, string | undefined>>): EnvAccount[] {
  const accounts: EnvAccount[] = [];
  // The presets whose variable forms an environment account, in listing order.
  const presets = PRESET_NAMES.map((name) => PRESETS[name]).filter((p) => p.envAccount && p.keyEnv);
  for (const preset of presets) {
    const envVar = preset.keyEnv!;
    const key = env[envVar]?.trim() ?? "";
    if (key === "") continue;
    const account: EnvAccount = {
      name: `${ENV_ACCOUNT_PREFIX}${preset.name}`,
      provider: preset.name,
      envVar,
    };
    const bad = keyProblem(preset, key);
    if (bad) {
      accounts.push({ ...account, problem: `${bad} (variable "${envVar}")` });
      continue;
    }
    let baseUrl = preset.baseUrl!;
    const override = preset.baseUrlEnv ? env[preset.baseUrlEnv]?.trim() : undefined;
    if (override) {
      try {
        baseUrl = normalizeBaseUrl(override, `the variable "${preset.baseUrlEnv}"`);
      } catch (error) {
        accounts.push({ ...account, key, problem: (error as QwenError).message });
        continue;
      }
    }
    accounts.push({ ...account, key, baseUrl });
  }
  return accounts;
}
