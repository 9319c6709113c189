/**
 * What `qwen service` needs of `qwen serve`'s flags, whose table lives here in cli/: the flags
 * given after `--` split into the unit's arguments and the env file's secrets, and the address a
 * service listens on, resolved exactly as `qwen serve` does.
 */
import type { ServeSettings } from "../commands/service/service.ts";
import { UsageError } from "../lib/errors.ts";
import { EnvFile } from "./env-file.ts";
import { parseFlags } from "./flags.ts";
import { resolveServeConfig, SERVE_ENV, SERVE_FLAGS } from "./serve-config.ts";

/** Serve flags whose values are secrets: they go to the env file as their variable. */
const SECRET_FLAGS = new Set<string>(["api-key"]);

/** `qwen serve`'s flags as the service needs them: parsed, checked and resolved as serve does. */
export const serveSettings: ServeSettings = {
  split(argv) {
    const values = parseFlags("qwen serve", [...argv], SERVE_FLAGS) as Record<
      string,
      string | boolean | readonly string[] | undefined
    >;
    if (values.help) throw new UsageError('"--help" is not a flag for the service to run with');
    if (values["env-file"] !== undefined) {
      throw new UsageError(
        'The service has its own env file and cannot take "--env-file": put the variables in ' +
          "it (see qwen service --help)",
      );
    }
    const args: string[] = [];
    const variables: Record<string, string> = {};
    for (const flag of SERVE_FLAGS) {
      const value = values[flag.name];
      if (value === undefined) continue;
      if (SECRET_FLAGS.has(flag.name)) {
        const list = typeof value === "string" ? [value] : value as readonly string[];
        if (list.some((v) => v.includes(","))) {
          throw new UsageError(`An API key given to "--${flag.name}" cannot contain ","`);
        }
        variables[SERVE_ENV[flag.name as keyof typeof SERVE_ENV]] = list.join(",");
      } else if (typeof value === "boolean") {
        args.push(value ? `--${flag.name}` : `--no-${flag.name}`);
      } else if (typeof value === "string") {
        args.push(`--${flag.name}`, value);
      } else {
        for (const item of value) args.push(`--${flag.name}`, item);
      }
    }
    return { args, variables };
  },
  async readEnvFile(path) {
    const { env } = await new EnvFile(path).apply({});
    return env as Record<string, string>;
  },
  address(args, env) {
    const { help: _help, ...flags } = parseFlags("qwen serve", [...args], SERVE_FLAGS);
    const config = resolveServeConfig(flags, env);
    return { host: config.host, port: config.port };
  },
};
