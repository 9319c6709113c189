/**
 * Where `qwen service` puts things (docs/service.md): the systemd user unit, the launchd agent and
 * its log, and the environment file both pass to `qwen serve --env-file`.
 */
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { REPOSITORY_URL } from "../../lib/release.ts";

type Env = Readonly<Record<string, string | undefined>>;

export interface ServiceFiles {
  /** `~/.config/systemd/user/qwen.service` (under `$XDG_CONFIG_HOME` when set). */
  readonly unit: string;
  /** `~/.config/qwen/serve.env`: settings and keys, mode 0600. */
  readonly envFile: string;
  /** `~/Library/LaunchAgents/<label>.plist`. */
  readonly plist: string;
  /** Where launchd writes the service's output: `~/Library/Logs/qwen/serve.log`. */
  readonly log: string;
  /** The launchd label, from the repository's address: `com.github.<owner>.<name>`. */
  readonly label: string;
}

export const UNIT_NAME = "qwen.service";

export function serviceFiles(env: Env): ServiceFiles {
  const home = userHome(env);
  const xdg = env.XDG_CONFIG_HOME;
  // The XDG spec says a relative value is to be ignored, and systemd does.
  const config = xdg && isAbsolute(xdg) ? xdg : join(home, ".config");
  const label = launchdLabel();
  return {
    unit: join(config, "systemd", "user", UNIT_NAME),
    envFile: join(config, "qwen", "serve.env"),
    plist: join(home, "Library", "LaunchAgents", `${label}.plist`),
    log: join(home, "Library", "Logs", "qwen", "serve.log"),
    label,
  };
}

export function userHome(env: Env): string {
  const home = env.HOME?.trim();
  return home ? home : homedir();
}

function launchdLabel(): string {
  const url = new URL(REPOSITORY_URL);
  const reversed = url.hostname.split(".").reverse().join(".");
  const path = url.pathname.split("/").filter((part) => part !== "").join(".");
  return `${reversed}.${path}`.toLowerCase().replace(/[^a-z0-9.-]/g, "-");
}
