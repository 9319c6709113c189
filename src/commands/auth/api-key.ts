import process from "node:process";
import {
  type ApiKeyFile,
  apiKeyPath,
  KEY_FILE_VERSION,
  readApiKeyFile,
  writeApiKeyFile,
} from "../../accounts/api-key-store.ts";
import {
  fingerprint,
  keyProblem,
  PRESETS,
  type ProviderPreset,
  resolveBaseUrl,
} from "../../accounts/providers.ts";
import type { Context } from "../../lib/context.ts";
import { qwenHome } from "../../credentials/paths.ts";
import { describeError, ExitCode, QwenError, UsageError } from "../../lib/errors.ts";
import { runtime } from "../../runtime/mod.ts";
import { readHiddenLine } from "../../terminal/hidden-prompt.ts";
import { styleFor } from "../../terminal/style.ts";
import { defaultUserAgent } from "../../upstream/headers.ts";
import type { AuthDeps, AuthOptions } from "./options.ts";
import { checkAccountName, checkNoOtherKind, sayTo } from "./account-name.ts";

/**
 * `qwen auth --provider PRESET`: reads the key (stdin, the preset's variable, a hidden prompt),
 * checks its shape, stores it, and unless `--no-verify` checks it with one 1-token chat call.
 */
export async function storeApiKey(
  options: AuthOptions,
  ctx: Context,
  deps: AuthDeps,
): Promise<number> {
  const style = styleFor(ctx);
  const say = sayTo(ctx);
  const preset = PRESETS[options.provider!];
  const account = options.account;
  checkAccountName(account, "api_key");
  const baseUrl = resolveBaseUrl(preset, options.baseUrl);
  const home = qwenHome(ctx.env);
  await checkNoOtherKind(home, account, "api_key");

  const { key, from } = await readKey(preset, ctx, deps);
  const problem = keyProblem(preset, key);
  if (problem) {
    throw new UsageError(
      `Cannot use the key from ${from} for provider "${preset.name}": ${problem}; nothing was stored`,
    );
  }

  const path = apiKeyPath(home, account);
  const previous = await readApiKeyFile(path);
  if ((previous.kind === "invalid" || previous.kind === "unreadable") && !options.force) {
    throw new QwenError(
      `Cannot store the key: "${path}" exists but cannot be used (${previous.problem}); look at it, or run again with "--force" to replace it`,
    );
  }
  const file: ApiKeyFile = {
    version: KEY_FILE_VERSION,
    type: "api_key",
    provider: preset.name,
    base_url: baseUrl,
    api_key: key,
    created_at: new Date(ctx.now()).toISOString(),
  };
  try {
    await writeApiKeyFile(path, file);
  } catch (error) {
    throw new QwenError(`Cannot save the API key file "${path}": ${describeError(error)}`);
  }
  const print = fingerprint(key);
  const replaced = previous.kind === "ok" ? replacement(previous.file.api_key, key) : "";
  say(
    `${style.green("Stored")} the ${
      keyName(preset)
    } key ${print}${replaced} as account "${account}" in "${path}".`,
  );
  say(style.dim(`API base: ${baseUrl}`));
  if (options.verify === false) {
    say(style.dim('Not verified (--no-verify): run "qwen status --probe" to check it.'));
    return ExitCode.ok;
  }

  const { probe } = await import("../../upstream/probe.ts");
  const { StoredKeyTokenSource } = await import("../../accounts/api-key-source.ts");
  const outcome = await probe({
    source: new StoredKeyTokenSource(account, path),
    model: preset.modelMap["coder-model"] ?? "coder-model",
  }, {
    fetch: ctx.fetch,
    userAgent: defaultUserAgent(process.platform, process.arch),
    now: ctx.now,
    signal: ctx.signal,
  });
  if (outcome.result === "ok") {
    say(`${style.green("Verified")}: ${sentence(outcome.message)}`);
    return ExitCode.ok;
  }
  say(
    `${
      style.red(outcome.refused ? "Refused" : "Not verified")
    } (${outcome.result}): ${outcome.message}.`,
  );
  say(
    style.dim(
      `The account "${account}" stays stored; remove it with "qwen auth --logout --account ${account}", or check it again with "qwen status --probe --account ${account}".`,
    ),
  );
  return outcome.refused ? ExitCode.refused : ExitCode.failure;
}

/** The key, first match wins: piped stdin, the preset's variable, a hidden prompt. */
async function readKey(
  preset: ProviderPreset,
  ctx: Context,
  deps: AuthDeps,
): Promise<{ key: string; from: string }> {
  if (!ctx.stdinIsTTY) {
    const piped = (await ctx.readStdin())?.trim();
    if (piped) return { key: piped, from: "stdin" };
  }
  const fromEnv = preset.keyEnv ? ctx.env[preset.keyEnv]?.trim() : undefined;
  if (fromEnv) return { key: fromEnv, from: `the variable "${preset.keyEnv}"` };
  if (ctx.stdinIsTTY || deps.readSecret) {
    const read = deps.readSecret ?? ((prompt: string) =>
      readHiddenLine(prompt, {
        write: ctx.stderr,
        setRawMode: (on) => runtime.setRawMode(on),
        signal: ctx.signal,
      }));
    const typed = (await read(`Paste the ${keyName(preset)} API key (input is hidden): `)).trim();
    if (typed) return { key: typed, from: "the prompt" };
    throw new UsageError(`No API key was typed for provider "${preset.name}"; nothing was stored`);
  }
  const env = preset.keyEnv ? `, set "${preset.keyEnv}"` : "";
  throw new UsageError(
    `No API key for provider "${preset.name}": pipe it on stdin (echo "$KEY" | qwen auth --provider ${preset.name})${env}, or run in a terminal to type it`,
  );
}

function keyName(preset: ProviderPreset): string {
  return preset.keyName ?? preset.label;
}

/**
 * What the stored key did to the one before, after its fingerprint: two keys that end alike have
 * the same fingerprint, which alone would read as the key replacing itself.
 */
function replacement(old: string, key: string): string {
  if (old === key) return " (the same key as before)";
  const was = fingerprint(old);
  if (was !== fingerprint(key)) return ` (replacing ${was})`;
  return ` (replacing a different key that also ends in ${was.slice(was.indexOf("…") + 1)})`;
}

/** Ends a message with a full stop unless it already ends with punctuation. */
function sentence(text: string): string {
  return /[.?!]$/.test(text) ? text : `${text}.`;
}
