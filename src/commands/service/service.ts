/**
 * `qwen service install | uninstall | status | logs`: `qwen serve` as a per-user service of the
 * compiled binary, under systemd (Linux) or launchd (macOS). The flags given after `--` go into
 * the unit, the secrets among them (and key variables of the environment) into the 0600 env file
 * it passes as `--env-file`. Design and file contents: docs/service.md.
 */
import { join, resolve } from "node:path";
import { fingerprint, PRESET_NAMES, PRESETS } from "../../accounts/providers.ts";
import type { Context } from "../../lib/context.ts";
import { ExitCode, QwenError } from "../../lib/errors.ts";
import type { Executable } from "../../runtime/mod.ts";
import type { Host } from "../host.ts";
import { updateEnvFile } from "./env-file-update.ts";
import { type ServiceFiles, serviceFiles, userHome } from "./files.ts";
import { LaunchdService } from "./launchd.ts";
import type { ServiceCommand, ServiceManager } from "./manager.ts";
import { Programs } from "./programs.ts";
import { SystemdService } from "./systemd.ts";

type Env = Readonly<Record<string, string | undefined>>;

export type ServiceAction = "install" | "uninstall" | "status" | "logs";

/**
 * What the service needs to know of `qwen serve`'s flags, whose table lives above this layer
 * (cli/service.ts implements it with serve's own parser and resolution).
 */
export interface ServeSettings {
  /**
   * The flags given after `--`: the arguments for the unit, in a canonical form, and the
   * variables for the env file (the secrets). A bad flag is a UsageError.
   */
  split(argv: readonly string[]): { args: string[]; variables: Record<string, string> };
  /** The variables of an env file; none when it is missing. A malformed file is a UsageError. */
  readEnvFile(path: string): Promise<Record<string, string>>;
  /** Where `qwen serve` with these flags and variables listens; a UsageError when it would not start. */
  address(args: readonly string[], env: Env): { host: string; port: number };
}

interface ServiceOptions {
  action: ServiceAction;
  /** The flags after `--`, for install. */
  serveArgv: readonly string[];
  /** Replace or remove a unit or agent that install did not write. */
  force: boolean;
  /** For logs. */
  lines: number;
  follow: boolean;
}

export async function runService(
  options: ServiceOptions,
  ctx: Context,
  host: Host,
  settings: ServeSettings,
): Promise<number> {
  const files = serviceFiles(ctx.env);
  const manager = serviceManager(host, ctx, files);
  if (manager === undefined) throw unsupported(host, files);
  switch (options.action) {
    case "install":
      return await install(options, ctx, host, settings, files, manager);
    case "uninstall":
      return uninstall(options, ctx, files, manager);
    case "status":
      return await status(ctx, settings, manager);
    case "logs":
      if ((await manager.state()) === undefined) throw notInstalled(manager);
      return await manager.logs(options.lines, options.follow);
  }
}

/** The service manager of this platform; undefined where there is none we support. */
export function serviceManager(
  host: Host,
  ctx: Context,
  files: ServiceFiles = serviceFiles(ctx.env),
): ServiceManager | undefined {
  const programs = new Programs(host, ctx);
  if (host.platform === "linux") return new SystemdService(files.unit, programs, host.uid);
  if (host.platform === "darwin") {
    return new LaunchdService(files.plist, files.label, files.log, programs, host.uid);
  }
  return undefined;
}

/** The `serve` flags of a service's command, without the env file, and that file. */
function serveFlagsOf(command: ServiceCommand): { flags: string[]; envFile?: string } {
  const flags = command.args[0] === "serve" ? command.args.slice(1) : [...command.args];
  const at = flags.indexOf("--env-file");
  if (at === -1) return { flags };
  const envFile = flags[at + 1];
  flags.splice(at, 2);
  return { flags, envFile };
}

async function install(
  options: ServiceOptions,
  ctx: Context,
  host: Host,
  settings: ServeSettings,
  files: ServiceFiles,
  manager: ServiceManager,
): Promise<number> {
  const binary = host.executable;
  if (!binary.compiled) throw fromSource(binary);
  const { args, variables } = settings.split(options.serveArgv);
  const fromEnvironment = keyVariables(ctx.env);
  Object.assign(variables, fromEnvironment);
  const qwenHomeSet = (ctx.env.QWEN_HOME ?? "").trim() !== "";
  // The default as the service will see it: below the HOME of the user it runs as.
  const home = resolve(qwenHomeSet ? ctx.env.QWEN_HOME! : join(userHome(ctx.env), ".qwen"));
  // What the service will see: the env file as it will be, and QWEN_HOME. Checked before
  // anything is written, so a configuration that would not start installs nothing.
  const envFileBefore = await settings.readEnvFile(files.envFile);
  settings.address(args, { ...envFileBefore, ...variables, QWEN_HOME: home });
  await manager.checkOurs(options.force);

  const update = await updateEnvFile(files.envFile, variables);
  const lines = [envFileLine(files.envFile, update, variables, Object.keys(fromEnvironment))];
  lines.push(
    ...await manager.install({
      binary: binary.path,
      serveArgs: args,
      envFile: files.envFile,
      qwenHome: home,
      qwenHomeSet,
      force: options.force,
    }),
  );
  ctx.stdout(`${lines.join("\n")}\n`);
  return ExitCode.ok;
}

async function uninstall(
  options: ServiceOptions,
  ctx: Context,
  files: ServiceFiles,
  manager: ServiceManager,
): Promise<number> {
  const lines = await manager.uninstall(options.force);
  if (lines === undefined) {
    ctx.stdout(`Not installed: there is no "${manager.path}"\n`);
    return ExitCode.ok;
  }
  // It holds the person's keys: never deleted by us (docs/service.md#uninstall).
  lines.push(`Kept ${files.envFile} (your settings and keys); delete it if you no longer need it`);
  ctx.stdout(`${lines.join("\n")}\n`);
  return ExitCode.ok;
}

async function status(
  ctx: Context,
  settings: ServeSettings,
  manager: ServiceManager,
): Promise<number> {
  const state = await manager.state();
  if (state === undefined) {
    ctx.stdout(`${manager.name}: not installed (no ${manager.path})\n`);
    return ExitCode.failure;
  }
  const lines = [`${manager.name}: installed, ${state.summary}`, `File:    ${manager.path}`];
  const command = await manager.command();
  let healthy = false;
  if (command === undefined) {
    lines.push('Runs:    unknown ("qwen service install" did not write this file)');
  } else {
    lines.push(`Runs:    ${[command.binary, ...command.args].join(" ")}`);
    try {
      const { flags, envFile } = serveFlagsOf(command);
      const env = { ...(envFile ? await settings.readEnvFile(envFile) : {}), ...command.env };
      const address = settings.address(flags, env);
      const health = await askHealth(ctx, address);
      healthy = health.ok;
      lines.push(`Health:  ${health.text}`);
    } catch (error) {
      if (!(error instanceof QwenError)) throw error;
      lines.push(`Config:  ${error.message}`);
    }
  }
  ctx.stdout(`${lines.join("\n")}\n`);
  return state.running && healthy ? ExitCode.ok : ExitCode.failure;
}

/** `/health` answers from memory: a server that takes longer than this is as good as down. */
const HEALTH_TIMEOUT_MS = 3_000;

async function askHealth(
  ctx: Context,
  address: { host: string; port: number },
): Promise<{ ok: boolean; text: string }> {
  // A service bound to every address is asked on loopback.
  const host = address.host === "0.0.0.0"
    ? "127.0.0.1"
    : address.host === "::"
    ? "::1"
    : address.host;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}/health`;
  try {
    const response = await ctx.fetch(url, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS) });
    const body = await response.text();
    let reason = "";
    try {
      const parsed = JSON.parse(body) as { status?: unknown; reason?: unknown };
      reason = typeof parsed.reason === "string"
        ? parsed.reason
        : typeof parsed.status === "string"
        ? parsed.status
        : "";
    } catch {
      // Not ours, or not JSON: the status says enough.
    }
    return {
      ok: response.status === 200,
      text: `${url} answered ${response.status}${reason ? ` (${reason})` : ""}`,
    };
  } catch (error) {
    const reason = (error as Error)?.name === "TimeoutError"
      ? `no answer within ${HEALTH_TIMEOUT_MS / 1000} s`
      : "no answer (not listening?)";
    return { ok: false, text: `${url}: ${reason}` };
  }
}

/**
 * Key variables set in the environment of `qwen service install` (DASHSCOPE_API_KEY, ...) and
 * their base URL overrides: the service does not inherit this shell, so they go to the env file.
 */
function keyVariables(env: Env): Record<string, string> {
  const found: Record<string, string> = {};
  for (const preset of PRESET_NAMES.map((name) => PRESETS[name])) {
    for (const name of [preset.keyEnv, preset.baseUrlEnv]) {
      const value = name === undefined ? undefined : env[name]?.trim();
      if (name !== undefined && value) found[name] = value;
    }
  }
  return found;
}

function envFileLine(
  path: string,
  update: { created: boolean; changed: boolean },
  variables: Record<string, string>,
  fromEnvironment: string[],
): string {
  const names = Object.entries(variables).map(([name, value]) => {
    if (name.endsWith("_API_KEY")) return `${name} (${fingerprint(value)})`;
    if (name === "QWEN_SERVE_API_KEYS") {
      const count = value.split(",").length;
      return `${name} (${count} ${count === 1 ? "key" : "keys"})`;
    }
    return name;
  });
  const verb = update.created ? "Wrote" : update.changed ? "Updated" : "Kept";
  const what = names.length > 0
    ? `: ${names.join(", ")}`
    : update.created
    ? ": empty, for your settings and keys"
    : "";
  const origin = fromEnvironment.length > 0
    ? `; ${fromEnvironment.join(", ")} taken from this shell's environment`
    : "";
  return `${verb} ${path} (mode 0600)${what}${origin}`;
}

function fromSource(binary: Executable): QwenError {
  return new QwenError(
    `Cannot install the service from source: it would run "${binary.path}" (the ` +
      `${binary.runtime} runtime), not a qwen binary. Install a release (see the README) or build ` +
      'one with "npm run build", and run its "service install"',
  );
}

function notInstalled(manager: ServiceManager): QwenError {
  return new QwenError(
    `The service is not installed: there is no "${manager.path}". Run "qwen service install"`,
  );
}

function unsupported(host: Host, files: ServiceFiles): QwenError {
  if (host.platform !== "win32") {
    return new QwenError(
      `"qwen service" supports Linux (systemd) and macOS (launchd), not "${host.platform}"`,
    );
  }
  const binary = host.executable.path;
  return new QwenError(
    '"qwen service" does not support Windows yet. To start "qwen serve" at logon by hand:\n' +
      `  1. Put settings and keys in "${files.envFile}" (QWEN_SERVE_PORT=8080, DASHSCOPE_API_KEY=...)\n` +
      `  2. schtasks /Create /TN qwen /SC ONLOGON /RL LIMITED /TR ` +
      `"\\"${binary}\\" serve --env-file \\"${files.envFile}\\""\n` +
      "  3. schtasks /Run /TN qwen   (and schtasks /Delete /TN qwen to remove it)",
  );
}
