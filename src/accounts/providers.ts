/**
 * API-key upstreams (docs/upstream.md#api-key-providers): one preset per plan and region, with its base
 * URL, the environment variables the official CLI reads, the key rule and the model names that
 * stand in for the OAuth portal's `coder-model` and `vision-model` and for Claude's model names.
 */
import { UsageError } from "../lib/errors.ts";

export const PRESET_NAMES = [
  "coding-plan",
  "coding-plan-cn",
  "token-plan",
  "token-plan-cn",
  "dashscope",
  "dashscope-cn",
  "dashscope-us",
  "openrouter",
  "custom",
] as const;

export type PresetName = (typeof PRESET_NAMES)[number];

export interface ProviderPreset {
  name: PresetName;
  /** For help texts: "Coding Plan, international". */
  label: string;
  /** What stands before "key" in a sentence, when `label` does not read there. */
  keyName?: string;
  /** The model API base (ends in `/v1`, no trailing slash); undefined for `custom`. */
  baseUrl?: string;
  /** The variable holding a key for this preset (the official CLI's names). */
  keyEnv?: string;
  /** The variable that overrides `baseUrl` for the environment account of `keyEnv`. */
  baseUrlEnv?: string;
  /**
   * Whether a key in `keyEnv` alone forms an account `env-<name>` (only the international
   * preset of each variable does).
   */
  envAccount?: true;
  /** Keys must start with this (Coding Plan: `sk-sp-`). */
  keyPrefix?: string;
  /** The OAuth model names mapped to this provider's real ones. */
  modelMap: Readonly<Record<string, string>>;
  /** What Claude's model names become here (docs/serve.md#model-names). */
  coderModels: CoderModels;
}

/**
 * The two coding models a Claude client's names stand for: `fast` for Haiku, which Claude Code
 * uses for small background tasks, `main` for every other Claude model.
 */
export interface CoderModels {
  readonly main: string;
  readonly fast: string;
}

/** `coder-model` and `vision-model` on Alibaba's API-key hosts (shown in the README). */
export const DEFAULT_MODEL_MAP: Readonly<Record<string, string>> = Object.freeze({
  "coder-model": "qwen3-coder-plus",
  "vision-model": "qwen3-vl-plus",
});

/** OpenRouter names models `vendor/model`. */
const OPENROUTER_MODEL_MAP: Readonly<Record<string, string>> = Object.freeze({
  "coder-model": "qwen/qwen3-coder-plus",
  "vision-model": "qwen/qwen3-vl-plus",
});

/** Alibaba's API-key hosts, and any account whose preset is unknown. */
export const DEFAULT_CODER_MODELS: CoderModels = Object.freeze({
  main: "qwen3-coder-plus",
  fast: "qwen3-coder-flash",
});

/** The OAuth portal serves the same two names as Alibaba's hosts (docs/upstream.md#model-api). */
export const OAUTH_CODER_MODELS: CoderModels = DEFAULT_CODER_MODELS;

const OPENROUTER_CODER_MODELS: CoderModels = Object.freeze({
  main: "qwen/qwen3-coder-plus",
  fast: "qwen/qwen3-coder-flash",
});

/** Any OpenAI-compatible API may lack the fast model, so Haiku gets the main one there too. */
const CUSTOM_CODER_MODELS: CoderModels = Object.freeze({
  main: DEFAULT_CODER_MODELS.main,
  fast: DEFAULT_CODER_MODELS.main,
});

const CODING_ENV = "BAILIAN_CODING_PLAN_API_KEY";
const CODING_BASE_ENV = "BAILIAN_CODING_PLAN_BASE_URL";
const TOKEN_ENV = "BAILIAN_TOKEN_PLAN_API_KEY";
const TOKEN_BASE_ENV = "BAILIAN_TOKEN_PLAN_BASE_URL";
const DASHSCOPE_ENV = "DASHSCOPE_API_KEY";
const DASHSCOPE_BASE_ENV = "DASHSCOPE_BASE_URL";

export const PRESETS: Readonly<Record<PresetName, ProviderPreset>> = Object.freeze({
  "coding-plan": {
    name: "coding-plan",
    label: "Coding Plan, international",
    baseUrl: "https://coding-intl.dashscope.aliyuncs.com/v1",
    keyEnv: CODING_ENV,
    baseUrlEnv: CODING_BASE_ENV,
    envAccount: true,
    keyPrefix: "sk-sp-",
    modelMap: DEFAULT_MODEL_MAP,
    coderModels: DEFAULT_CODER_MODELS,
  },
  "coding-plan-cn": {
    name: "coding-plan-cn",
    label: "Coding Plan, China",
    baseUrl: "https://coding.dashscope.aliyuncs.com/v1",
    keyEnv: CODING_ENV,
    baseUrlEnv: CODING_BASE_ENV,
    keyPrefix: "sk-sp-",
    modelMap: DEFAULT_MODEL_MAP,
    coderModels: DEFAULT_CODER_MODELS,
  },
  "token-plan": {
    name: "token-plan",
    label: "Token Plan, international",
    baseUrl: "https://token-plan.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1",
    keyEnv: TOKEN_ENV,
    baseUrlEnv: TOKEN_BASE_ENV,
    envAccount: true,
    modelMap: DEFAULT_MODEL_MAP,
    coderModels: DEFAULT_CODER_MODELS,
  },
  "token-plan-cn": {
    name: "token-plan-cn",
    label: "Token Plan, China",
    baseUrl: "https://token-plan.cn-beijing.maas.aliyuncs.com/compatible-mode/v1",
    keyEnv: TOKEN_ENV,
    baseUrlEnv: TOKEN_BASE_ENV,
    modelMap: DEFAULT_MODEL_MAP,
    coderModels: DEFAULT_CODER_MODELS,
  },
  "dashscope": {
    name: "dashscope",
    label: "Model Studio pay-as-you-go, Singapore",
    baseUrl: "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    keyEnv: DASHSCOPE_ENV,
    baseUrlEnv: DASHSCOPE_BASE_ENV,
    envAccount: true,
    modelMap: DEFAULT_MODEL_MAP,
    coderModels: DEFAULT_CODER_MODELS,
  },
  "dashscope-cn": {
    name: "dashscope-cn",
    label: "Model Studio pay-as-you-go, Beijing",
    baseUrl: "https://dashscope.aliyuncs.com/compatible-mode/v1",
    keyEnv: DASHSCOPE_ENV,
    baseUrlEnv: DASHSCOPE_BASE_ENV,
    modelMap: DEFAULT_MODEL_MAP,
    coderModels: DEFAULT_CODER_MODELS,
  },
  "dashscope-us": {
    name: "dashscope-us",
    label: "Model Studio pay-as-you-go, US",
    baseUrl: "https://dashscope-us.aliyuncs.com/compatible-mode/v1",
    keyEnv: DASHSCOPE_ENV,
    baseUrlEnv: DASHSCOPE_BASE_ENV,
    modelMap: DEFAULT_MODEL_MAP,
    coderModels: DEFAULT_CODER_MODELS,
  },
  "openrouter": {
    name: "openrouter",
    label: "OpenRouter",
    baseUrl: "https://openrouter.ai/api/v1",
    keyEnv: "OPENROUTER_API_KEY",
    baseUrlEnv: "OPENROUTER_BASE_URL",
    envAccount: true,
    modelMap: OPENROUTER_MODEL_MAP,
    coderModels: OPENROUTER_CODER_MODELS,
  },
  "custom": {
    name: "custom",
    label: "any OpenAI-compatible API (needs --base-url)",
    keyName: "OpenAI-compatible",
    modelMap: DEFAULT_MODEL_MAP,
    coderModels: CUSTOM_CODER_MODELS,
  },
});

function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}

export function presetFor(name: string): ProviderPreset {
  if (!isPresetName(name)) {
    throw new UsageError(
      `Unknown provider "${name}": use one of ${PRESET_NAMES.map((n) => `"${n}"`).join(", ")}`,
    );
  }
  return PRESETS[name];
}

/**
 * Checks and normalizes a base URL given by a flag or a variable: http(s) only, no query,
 * fragment or credentials, no trailing slash. `source` names where it came from.
 */
export function normalizeBaseUrl(value: string, source: string): string {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw new UsageError(`Invalid base URL "${value}" in ${source}: expected an http(s) URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new UsageError(`Invalid base URL "${value}" in ${source}: expected an http(s) URL`);
  }
  if (url.username || url.password || url.search || url.hash) {
    throw new UsageError(
      `Invalid base URL "${value}" in ${source}: remove the credentials, query or fragment`,
    );
  }
  return url.href.replace(/\/+$/, "");
}

/** The base URL of a preset, `override` first (a flag or a variable, already normalized). */
export function resolveBaseUrl(preset: ProviderPreset, override?: string): string {
  const url = override ?? preset.baseUrl;
  if (url === undefined) {
    throw new UsageError(
      `Provider "${preset.name}" needs "--base-url URL": run "qwen auth --help" for usage`,
    );
  }
  return url;
}

/** Alibaba's hosts want `X-DashScope-CacheControl: enable` (the official client sends it). */
export function isAlibabaHost(baseUrl: string): boolean {
  let host: string;
  try {
    host = new URL(baseUrl).hostname.toLowerCase();
  } catch {
    return false;
  }
  return /(^|\.)(aliyuncs\.com|alibabacloud\.com|aliyun\.com)$/.test(host);
}

/**
 * Why a key cannot be right for a preset, or undefined when it looks fine. Checked before
 * anything is stored; the message never contains the key.
 */
export function keyProblem(preset: ProviderPreset, key: string): string | undefined {
  if (key === "") return "the key is empty";
  if (/\s/.test(key)) return "the key contains whitespace";
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(key)) return "the key contains control characters";
  if (key.length < 8) return "the key is too short";
  if (preset.keyPrefix && !key.startsWith(preset.keyPrefix)) {
    return `${preset.label.split(",")[0]} keys start with "${preset.keyPrefix}"`;
  }
  return undefined;
}

/** `sk-sp-…9f2c`: enough to tell keys apart, never enough to use one. */
export function fingerprint(key: string): string {
  if (key.length <= 8) return `…${key.slice(-2)}`;
  const prefix = /^(sk-sp-|sk-or-v1-|sk-)/.exec(key)?.[0] ?? "";
  return `${prefix}…${key.slice(-4)}`;
}
