/** `qwen serve`: its help, and the Command that reads the config and starts commands/serve.ts. */
import { flagCommand } from "./command.ts";
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
Endpoints: POST /v1/chat/completions, GET /v1/models, other /v1/* forwarded, GET /health,
GET /metrics (Prometheus; same API keys as /v1). Usage and cooldowns: QWEN_HOME/qwen_state.json.
`;

export const serveCommand = flagCommand("qwen serve", SERVE_FLAGS, USAGE, async (values, ctx) => {
  const { help: _help, ...flags } = values;
  const config = resolveServeConfig(flags, ctx.env);
  const { runServe } = await import("../commands/serve.ts");
  return await runServe(config, ctx);
});
