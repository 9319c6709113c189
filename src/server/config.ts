/**
 * The options of `qwen serve`, from flags and from the environment (so that a systemd
 * `EnvironmentFile` is enough). A flag replaces its variable; a repeatable flag replaces the whole
 * list. Values are validated with zod and a bad one is named with where it came from.
 */
import { UsageError } from "../lib/errors.ts";
import { z } from "../lib/zod.ts";

export interface ServeConfig {
  host: string;
  port: number;
  apiKeys: string[];
  /** Accounts of the pool (`--account`, repeatable); empty: every account there is. */
  accounts: string[];
  strategy: "round-robin" | "fill-first";
  /** `--model-map from=to` on top of each account's own map. */
  modelMap: Record<string, string>;
  allowHosts: string[];
  corsOrigins: string[];
  maxBodyBytes: number;
  graceMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  verbose: boolean;
  logFormat: "text" | "json";
}

/** The raw flag values as parseArgs gives them. */
export interface ServeFlags {
  host?: string;
  port?: string;
  "api-key"?: readonly string[];
  account?: readonly string[];
  strategy?: string;
  "model-map"?: readonly string[];
  "allow-host"?: readonly string[];
  "cors-origin"?: readonly string[];
  "max-body"?: string;
  grace?: string;
  "first-byte-timeout"?: string;
  "idle-timeout"?: string;
  verbose?: boolean;
  "log-format"?: string;
}

/** Flag → environment variable; the README and `--help` print this table. */
export const ENV_NAMES = {
  host: "QWEN_SERVE_HOST",
  port: "QWEN_SERVE_PORT",
  "api-key": "QWEN_SERVE_API_KEYS",
  account: "QWEN_SERVE_ACCOUNTS",
  strategy: "QWEN_SERVE_STRATEGY",
  "model-map": "QWEN_SERVE_MODEL_MAP",
  "allow-host": "QWEN_SERVE_ALLOW_HOSTS",
  "cors-origin": "QWEN_SERVE_CORS_ORIGINS",
  "max-body": "QWEN_SERVE_MAX_BODY",
  grace: "QWEN_SERVE_GRACE",
  "first-byte-timeout": "QWEN_SERVE_FIRST_BYTE_TIMEOUT",
  "idle-timeout": "QWEN_SERVE_IDLE_TIMEOUT",
  verbose: "QWEN_SERVE_VERBOSE",
  "log-format": "QWEN_SERVE_LOG_FORMAT",
} as const satisfies Record<keyof ServeFlags, string>;

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

const booleanSchema = z.pipe(
  z.string().check(z.trim(), z.toLowerCase()),
  z.transform((value: string, ctx) => {
    if (["1", "true", "yes", "on"].includes(value)) return true;
    if (["0", "false", "no", "off", ""].includes(value)) return false;
    ctx.issues.push({ code: "custom", message: "expected true or false", input: value });
    return z.NEVER;
  }),
);

const logFormatSchema = z.enum(["text", "json"], { message: 'expected "text" or "json"' });

const nonEmpty = z.string().check(z.trim(), z.minLength(1, "expected a value"));

const accountName = z.string().check(
  z.trim(),
  z.regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected an account name: 1 to 64 letters, digits, "-" or "_"'),
);

const strategySchema = z.enum(["round-robin", "fill-first"], {
  message: 'expected "round-robin" or "fill-first"',
});

const modelMapping = z.pipe(
  z.string().check(z.trim()),
  z.transform((text: string, ctx) => {
    const match = /^([^=\s]+)\s*=\s*([^=\s]+)$/.exec(text);
    if (!match) {
      ctx.issues.push({
        code: "custom",
        message: "expected FROM=TO, e.g. coder-model=qwen3-coder-plus",
        input: text,
      });
      return z.NEVER;
    }
    return [match[1], match[2]] as const;
  }),
);

export function resolveServeConfig(flags: ServeFlags, env: Env): ServeConfig {
  const pick = (name: keyof ServeFlags): { value: string; source: string } | undefined => {
    const flag = flags[name];
    if (typeof flag === "string") return { value: flag, source: `--${name}` };
    const variable = ENV_NAMES[name];
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
    let variable: string = ENV_NAMES[name];
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
  const value = <T>(name: keyof ServeFlags, schema: z.ZodMiniType<T, string>, fallback: T): T => {
    const found = pick(name);
    return found === undefined ? fallback : check(schema, found.value, found.source);
  };

  const verboseEnv = env[ENV_NAMES.verbose];
  // QWEN_SERVE_ACCOUNT (one name) is what the single-account serve read.
  const accounts = [
    ...new Set(
      list("account", "QWEN_SERVE_ACCOUNT").map((a) => check(accountName, a.value, a.source)),
    ),
  ];
  const modelMap: Record<string, string> = {};
  for (const item of list("model-map")) {
    const [from, to] = check(modelMapping, item.value, item.source);
    modelMap[from] = to;
  }
  return {
    host: value("host", nonEmpty, "127.0.0.1").replace(/^\[(.*)\]$/, "$1"),
    port: value("port", portSchema, 8080),
    apiKeys: values("api-key"),
    accounts,
    strategy: value("strategy", strategySchema, "round-robin"),
    modelMap,
    allowHosts: values("allow-host"),
    corsOrigins: values("cors-origin"),
    maxBodyBytes: value("max-body", sizeSchema, 32 * 1024 ** 2),
    graceMs: value("grace", secondsSchema(0), 30_000),
    firstByteTimeoutMs: value("first-byte-timeout", secondsSchema(1), 300_000),
    idleTimeoutMs: value("idle-timeout", secondsSchema(1), 300_000),
    verbose: flags.verbose ??
      (verboseEnv === undefined ? false : check(booleanSchema, verboseEnv, ENV_NAMES.verbose)),
    logFormat: value("log-format", logFormatSchema, "text"),
  };
}

function check<T>(schema: z.ZodMiniType<T, string>, value: string, source: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const shown = source === ENV_NAMES["api-key"] || source === "--api-key" ? "…" : value;
  throw new UsageError(
    `Invalid value "${shown}" for "${source}": ${parsed.error.issues[0]?.message ?? "invalid"}`,
  );
}
