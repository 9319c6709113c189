/**
 * The options of `qwen serve`: one table of its flags, their variables and defaults (the help
 * and the README are checked against it), and their resolution into a ServeConfig. Every flag
 * can be set from the environment too, so that a systemd `EnvironmentFile` is enough. A flag
 * replaces its variable; a repeatable flag replaces the whole list. Values are validated with
 * zod and a bad one is named with where it came from.
 */
import { WILDCARD } from "../accounts/model-map.ts";
import { DEFAULT_CODER_MODELS, DEFAULT_MODEL_MAP } from "../accounts/providers.ts";
import type { ServeConfig } from "../commands/serve.ts";
import { ACCOUNT_NAME_RULE, WHOLE_ACCOUNT_NAME } from "../credentials/paths.ts";
import { UsageError } from "../lib/errors.ts";
import { isLoopback } from "../lib/net.ts";
import { z } from "../lib/zod.ts";
import { envNames, type FlagTable, type FlagValues, HELP_FLAG } from "./flags.ts";

export const SERVE_FLAGS = [
  {
    name: "host",
    env: "QWEN_SERVE_HOST",
    value: "HOST",
    default: "127.0.0.1",
    help: "Address to bind",
  },
  {
    name: "port",
    env: "QWEN_SERVE_PORT",
    short: "p",
    value: "PORT",
    default: "8080",
    help: "Port, 0 for any free one",
  },
  {
    name: "api-key",
    env: "QWEN_SERVE_API_KEYS",
    multiple: true,
    value: "KEY",
    help: "Require this key from clients",
  },
  {
    name: "account",
    env: "QWEN_SERVE_ACCOUNTS",
    multiple: true,
    value: "NAME",
    default: "all of them",
    help: "Only this account",
  },
  {
    name: "strategy",
    env: "QWEN_SERVE_STRATEGY",
    value: "NAME",
    choices: ["round-robin", "fill-first"],
    default: "round-robin",
    help: "round-robin, or fill-first: the first account until it fails, then the next",
  },
  {
    name: "model-map",
    env: "QWEN_SERVE_MODEL_MAP",
    multiple: true,
    value: "FROM=TO",
    help: `Send model FROM as TO; a * in FROM matches any text (exact names first, then ` +
      `patterns in the order given). Built in: ${
        Object.entries(DEFAULT_MODEL_MAP).map(([from, to]) => `${from}=${to}`).join(", ")
      } on API keys; claude-*haiku*=${DEFAULT_CODER_MODELS.fast}, ` +
      `claude-*=${DEFAULT_CODER_MODELS.main} (on Alibaba and OAuth). For Claude Code: ` +
      `claude-*=MODEL, or its ANTHROPIC_MODEL and ANTHROPIC_SMALL_FAST_MODEL`,
  },
  {
    name: "allow-host",
    env: "QWEN_SERVE_ALLOW_HOSTS",
    multiple: true,
    value: "NAME",
    help: "Extra Host name accepted on loopback (reverse proxy)",
  },
  {
    name: "cors-origin",
    env: "QWEN_SERVE_CORS_ORIGINS",
    multiple: true,
    value: "ORIGIN",
    help: "Web origin allowed to call the API (CORS)",
  },
  {
    name: "max-body",
    env: "QWEN_SERVE_MAX_BODY",
    value: "SIZE",
    default: "32MiB",
    help: "Largest request body: bytes, or a size in KB, KiB, MB, MiB, GB or GiB",
  },
  {
    name: "max-response",
    env: "QWEN_SERVE_MAX_RESPONSE",
    value: "SIZE",
    default: "64MiB",
    help: "Largest upstream answer read whole (a JSON answer, decoded; streams pass through)",
  },
  {
    name: "grace",
    env: "QWEN_SERVE_GRACE",
    value: "SECONDS",
    default: "30",
    help: "Time open requests get on shutdown",
  },
  {
    name: "first-byte-timeout",
    env: "QWEN_SERVE_FIRST_BYTE_TIMEOUT",
    value: "SECONDS",
    default: "300",
    help: "Longest wait for the upstream's answer",
  },
  {
    name: "idle-timeout",
    env: "QWEN_SERVE_IDLE_TIMEOUT",
    value: "SECONDS",
    default: "300",
    help: "Longest silence inside an answer",
  },
  {
    name: "responses-store",
    env: "QWEN_SERVE_RESPONSES_STORE",
    value: "N",
    default: "1000",
    help:
      "Responses /v1/responses keeps in memory for previous_response_id (at most 64 MiB); 0: none",
  },
  {
    name: "verbose",
    env: "QWEN_SERVE_VERBOSE",
    type: "boolean",
    help: "Also log /health requests",
  },
  {
    name: "log-format",
    env: "QWEN_SERVE_LOG_FORMAT",
    choices: ["text", "json"],
    default: "text",
    help: "One line per request, as text or JSON",
  },
  {
    name: "env-file",
    env: "QWEN_SERVE_ENV_FILE",
    value: "PATH",
    path: "file",
    help:
      "Read variables (QWEN_SERVE_*, key variables such as DASHSCOPE_API_KEY) from this file, " +
      "over the environment; SIGHUP reads it again",
  },
  {
    name: "check",
    type: "boolean",
    help: "Read the configuration and the accounts as serving would, say what would be served, " +
      "and exit: 0 it would start, 2 a configuration error, 1 another failure",
  },
  HELP_FLAG,
] as const satisfies FlagTable;

/** The flag values as parseArgs gives them, `--help` and `--check` aside. */
type ServeFlags = Omit<FlagValues<typeof SERVE_FLAGS>, "help" | "check">;

type ServeFlag = (typeof SERVE_FLAGS)[number];
/** The flags of one value with a default, which is parsed as if it had been given. */
type Defaulted = Exclude<Extract<ServeFlag, { default: string }>, { multiple: true }>["name"];

/** Flag → its variable. */
export const SERVE_ENV = envNames(SERVE_FLAGS);

function flag<N extends ServeFlag["name"]>(name: N): Extract<ServeFlag, { name: N }> {
  return SERVE_FLAGS.find((f) => f.name === name) as Extract<ServeFlag, { name: N }>;
}

type Env = Readonly<Record<string, string | undefined>>;

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
};

const PORT_MESSAGE = "expected a port number from 0 to 65535";
const portSchema = z.pipe(
  z.pipe(z.string().check(z.trim(), z.regex(/^\d+$/, PORT_MESSAGE)), z.transform(Number)),
  z.number().check(z.int(), z.maximum(65535, PORT_MESSAGE)),
);

const sizeSchema = z.pipe(
  z.pipe(
    z.string().check(z.trim()),
    z.transform((text: string, ctx) => {
      const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text);
      const unit = match ? UNITS[match[2].toLowerCase()] : undefined;
      if (!match || unit === undefined) {
        ctx.issues.push({
          code: "custom",
          message: "expected bytes, or a size such as 32MiB or 500KB",
          input: text,
        });
        return z.NEVER;
      }
      return Math.floor(Number(match[1]) * unit);
    }),
  ),
  z.number().check(z.int(), z.positive("expected a size above 0")),
);

const secondsSchema = (min: number) =>
  z.pipe(
    z.pipe(
      z.string().check(z.trim(), z.regex(/^\d+(\.\d+)?$/, "expected a number of seconds")),
      z.transform((s: string) => Math.round(Number(s) * 1000)),
    ),
    z.number().check(z.minimum(min * 1000, `expected at least ${min} s`)),
  );

const countSchema = z.pipe(
  z.pipe(
    z.string().check(z.trim(), z.regex(/^\d+$/, "expected a whole number, 0 or more")),
    z.transform(Number),
  ),
  z.number().check(z.int(), z.maximum(1_000_000, "expected at most 1000000")),
);

const booleanSchema = z.pipe(
  z.string().check(z.trim(), z.toLowerCase()),
  z.transform((value: string, ctx) => {
    if (["1", "true", "yes", "on"].includes(value)) return true;
    if (["0", "false", "no", "off", ""].includes(value)) return false;
    ctx.issues.push({ code: "custom", message: "expected true or false", input: value });
    return z.NEVER;
  }),
);

const choiceSchema = <const T extends readonly string[]>(choices: T) =>
  z.enum(choices, { message: `expected ${choices.map((c) => `"${c}"`).join(" or ")}` });

const nonEmpty = z.string().check(z.trim(), z.minLength(1, "expected a value"));

const accountName = z.string().check(
  z.trim(),
  z.regex(WHOLE_ACCOUNT_NAME, `expected an account name: ${ACCOUNT_NAME_RULE}`),
);

const modelMapping = z.pipe(
  z.string().check(z.trim()),
  z.transform((text: string, ctx) => {
    const match = /^([^=\s]+)\s*=\s*([^=\s]+)$/.exec(text);
    if (!match) {
      ctx.issues.push({
        code: "custom",
        message: "expected FROM=TO, e.g. coder-model=qwen3-coder-plus or claude-*=qwen3-max",
        input: text,
      });
      return z.NEVER;
    }
    if (match[2].includes(WILDCARD)) {
      ctx.issues.push({
        code: "custom",
        message: `TO "${match[2]}" contains "${WILDCARD}", which only FROM may hold: name one ` +
          "model, e.g. claude-*=qwen3-coder-plus",
        input: text,
      });
      return z.NEVER;
    }
    return [match[1], match[2]] as const;
  }),
);

export function resolveServeConfig(flags: ServeFlags, env: Env): ServeConfig {
  const pick = (name: keyof ServeFlags): { value: string; source: string } | undefined => {
    const given = flags[name];
    if (typeof given === "string") return { value: given, source: `--${name}` };
    const variable = SERVE_ENV[name];
    const fromEnv = env[variable];
    if (fromEnv !== undefined && fromEnv.trim() !== "") return { value: fromEnv, source: variable };
    // PORT is what platforms and process managers set; ours wins over it.
    if (name === "port" && env.PORT !== undefined && env.PORT.trim() !== "") {
      return { value: env.PORT, source: "PORT" };
    }
    return undefined;
  };
  const list = (
    name: "api-key" | "allow-host" | "cors-origin" | "account" | "model-map",
    legacyEnv?: string,
  ): { value: string; source: string }[] => {
    const values = flags[name];
    if (values !== undefined && values.length > 0) {
      return values.map((v) => ({ value: check(nonEmpty, v, `--${name}`), source: `--${name}` }));
    }
    let variable: string = SERVE_ENV[name];
    let fromEnv = env[variable];
    if ((fromEnv === undefined || fromEnv.trim() === "") && legacyEnv !== undefined) {
      variable = legacyEnv;
      fromEnv = env[legacyEnv];
    }
    if (fromEnv === undefined) return [];
    return fromEnv.split(",").map((v) => v.trim()).filter((v) => v !== "").map((value) => ({
      value,
      source: variable,
    }));
  };
  const values = (name: "api-key" | "allow-host" | "cors-origin") => list(name).map((v) => v.value);
  const value = <T>(name: Defaulted, schema: z.ZodMiniType<T, string>): T => {
    const found = pick(name) ?? { value: flag(name).default, source: `--${name} (default)` };
    return check(schema, found.value, found.source);
  };

  // QWEN_SERVE_ACCOUNT (one name) is what the single-account serve read.
  const accounts = [
    ...new Set(
      list("account", "QWEN_SERVE_ACCOUNT").map((a) => check(accountName, a.value, a.source)),
    ),
  ];
  // In the order given: ModelMap tries the patterns in this record's order.
  const modelMap: Record<string, string> = {};
  for (const item of list("model-map")) {
    const [from, to] = check(modelMapping, item.value, item.source);
    modelMap[from] = to;
  }
  const config: ServeConfig = {
    host: value("host", nonEmpty).replace(/^\[(.*)\]$/, "$1"),
    port: value("port", portSchema),
    apiKeys: values("api-key"),
    accounts,
    strategy: value("strategy", choiceSchema(flag("strategy").choices)),
    modelMap,
    allowHosts: values("allow-host"),
    corsOrigins: values("cors-origin"),
    maxBodyBytes: value("max-body", sizeSchema),
    maxResponseBytes: value("max-response", sizeSchema),
    graceMs: value("grace", secondsSchema(0)),
    firstByteTimeoutMs: value("first-byte-timeout", secondsSchema(1)),
    idleTimeoutMs: value("idle-timeout", secondsSchema(1)),
    responsesStore: value("responses-store", countSchema),
    verbose: flags.verbose ?? check(booleanSchema, env[SERVE_ENV.verbose] ?? "", SERVE_ENV.verbose),
    logFormat: value("log-format", choiceSchema(flag("log-format").choices)),
  };
  if (!isLoopback(config.host) && config.apiKeys.length === 0) {
    throw new UsageError(
      `Refusing to listen on "${config.host}" without an API key: anyone who can reach it ` +
        `could use your Qwen account. Set "--api-key" (or ${SERVE_ENV["api-key"]}), or bind ` +
        `"127.0.0.1"`,
    );
  }
  if (
    !isLoopback(config.host) && config.apiKeys.some((key) => key.length < MIN_PUBLIC_KEY_LENGTH)
  ) {
    throw new UsageError(
      `Refusing to listen on "${config.host}" with an API key shorter than ` +
        `${MIN_PUBLIC_KEY_LENGTH} characters: anyone who can reach the port may try keys, and a ` +
        "short one is soon guessed. Use a long random key (openssl rand -hex 24), or bind " +
        '"127.0.0.1"',
    );
  }
  return config;
}

/** Past a loopback bind, a key is all that stands between the network and the accounts. */
const MIN_PUBLIC_KEY_LENGTH = 16;

function check<T>(schema: z.ZodMiniType<T, string>, value: string, source: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const shown = source === SERVE_ENV["api-key"] || source === "--api-key" ? "…" : value;
  throw new UsageError(
    `Invalid value "${shown}" for "${source}": ${parsed.error.issues[0]?.message ?? "invalid"}`,
  );
}
