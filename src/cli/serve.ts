/** `qwen serve`: its help, and the Command that reads the config and starts commands/serve.ts. */
import type { ServeSetup } from "../commands/serve.ts";
import { flagCommand } from "./command.ts";
import { EnvFile } from "./env-file.ts";
import { envHelp, flagsHelp } from "./flags.ts";
import { resolveServeConfig, SERVE_ENV, SERVE_FLAGS } from "./serve-config.ts";

const USAGE = `Usage: qwen serve [flags]

Runs an OpenAI-compatible API on http://127.0.0.1:8080/v1 for the accounts in QWEN_HOME (OAuth
logins and API keys from "qwen auth") and in key variables such as DASHSCOPE_API_KEY. Requests are
spread over them; an account that hits its quota, is throttled or refused is skipped before the
client sees a byte. Accounts added while serving join within seconds.

Flags:
${flagsHelp(SERVE_FLAGS)}

Environment (a flag replaces its variable; lists are comma-separated):
${envHelp(SERVE_FLAGS, [["PORT", `--port, when ${SERVE_ENV.port} is not set`]])}

Binding an address other than loopback requires at least one API key.
--check reads all of the above (flags, environment, --env-file, the accounts and their files) and
prints one line on what would be served, binding no port and calling no host: exit 0 it would
start (warnings, such as no accounts yet, on stderr), 2 a configuration error (on stderr), 1
another failure (QWEN_HOME cannot be listed). A port already in use shows only on a real start.
SIGHUP lists the accounts again and re-reads --env-file: accounts, keys, API keys, model map,
strategy, allowed hosts and origins and --grace change without a restart; SIGTERM or SIGINT drain.
Endpoints: POST /v1/chat/completions, GET /v1/models, other /v1/* forwarded, GET /health,
GET /metrics (Prometheus; same API keys as /v1). Usage and cooldowns: QWEN_HOME/qwen_state.json.
`;

export const serveCommand = flagCommand("qwen serve", SERVE_FLAGS, USAGE, async (values, ctx) => {
  const { help: _help, check, ...flags } = values;
  const path = (flags["env-file"] ?? ctx.env[SERVE_ENV["env-file"]])?.trim();
  const envFile = path ? new EnvFile(path) : undefined;
  // At start, and again on each SIGHUP: flags stay as given, the file is read anew.
  const read = async (): Promise<ServeSetup> => {
    if (envFile === undefined) return { config: resolveServeConfig(flags, ctx.env), env: ctx.env };
    const { env, missing } = await envFile.apply(ctx.env);
    return {
      config: resolveServeConfig(flags, env),
      env,
      note: missing
        ? `no env file "${envFile.path}" yet: SIGHUP reads it once it exists`
        : undefined,
    };
  };
  const setup = await read();
  if (check) {
    const { runServeCheck } = await import("../commands/serve-check.ts");
    return await runServeCheck(setup, ctx);
  }
  const { runServe } = await import("../commands/serve.ts");
  return await runServe(setup, ctx, read);
});
