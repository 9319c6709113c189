/** `qwen service` on Linux: a systemd user unit, run by `systemctl --user`. */
import { readFile, rm } from "node:fs/promises";
import { QwenError } from "../../lib/errors.ts";
import { UNIT_NAME } from "./files.ts";
import type { InstallSpec, ServiceCommand, ServiceManager, ServiceState } from "./manager.ts";
import { type Programs, writeReadableFile } from "./programs.ts";
import { readUnitCommand, readUnitQwenHome, renderUnit, UNIT_MARKER } from "./systemd-unit.ts";

export class SystemdService implements ServiceManager {
  readonly name = UNIT_NAME;

  constructor(
    readonly path: string,
    private readonly programs: Programs,
    private readonly uid: number | undefined,
  ) {}

  async checkOurs(force: boolean): Promise<void> {
    const text = await this.#read();
    if (text !== undefined && !text.includes(UNIT_MARKER) && !force) throw notOurs(this.path);
  }

  async install(spec: InstallSpec): Promise<string[]> {
    await this.checkOurs(spec.force);
    const before = await this.#read();
    const unit = renderUnit(spec);
    const changed = unit !== before;
    if (changed) await writeReadableFile(this.path, unit);
    const systemctl = (...args: string[]) =>
      this.programs.must("systemctl", ["--user", ...args]).catch((error) => {
        throw /connect to bus/i.test(String(error?.message)) ? noUserManager(error) : error;
      });
    await systemctl("daemon-reload");
    await systemctl("enable", UNIT_NAME);
    // A new unit (binary, flags) needs a restart; the same one a reload, which re-reads the env
    // file (keys, API keys) without dropping a connection, or a start when it is not running.
    await systemctl(changed ? "restart" : "reload-or-restart", UNIT_NAME);
    const lines = [
      `${changed ? (before === undefined ? "Wrote" : "Updated") : "Kept"} ${this.path}`,
      `${before === undefined ? "Enabled and started" : changed ? "Restarted" : "Reloaded"} ` +
      `${UNIT_NAME}: see "qwen service status" and "qwen service logs"`,
    ];
    if (!(await this.#lingers())) {
      lines.push(
        'It stops when you log out; to keep it running: loginctl enable-linger "$USER"',
      );
    }
    return lines;
  }

  async uninstall(force: boolean): Promise<string[] | undefined> {
    if ((await this.#read()) === undefined) return undefined;
    await this.checkOurs(force);
    const lines: string[] = [];
    const stopped = await this.programs.call("systemctl", [
      "--user",
      "disable",
      "--now",
      UNIT_NAME,
    ]);
    if (stopped.code !== 0) {
      lines.push(`Could not stop ${UNIT_NAME} (${firstLine(stopped.stderr)}); removing it anyway`);
    }
    await rm(this.path, { force: true });
    await this.programs.call("systemctl", ["--user", "daemon-reload"]);
    lines.push(`Stopped ${UNIT_NAME} and removed ${this.path}`);
    return lines;
  }

  async command(): Promise<ServiceCommand | undefined> {
    const unit = await this.#read();
    if (unit === undefined || !unit.includes(UNIT_MARKER)) return undefined;
    const command = readUnitCommand(unit);
    if (command === undefined) return undefined;
    const qwenHome = readUnitQwenHome(unit);
    return { ...command, env: qwenHome === undefined ? {} : { QWEN_HOME: qwenHome } };
  }

  async state(): Promise<ServiceState | undefined> {
    if ((await this.#read()) === undefined) return undefined;
    const ask = async (question: string) =>
      firstLine(
        (await this.programs.call("systemctl", ["--user", question, UNIT_NAME])).stdout,
      ) || "unknown";
    const [enabled, active] = [await ask("is-enabled"), await ask("is-active")];
    return { summary: `${enabled}, ${active}`, running: active === "active" };
  }

  logs(lines: number, follow: boolean): Promise<number> {
    return this.programs.follow("journalctl", [
      "--user",
      "-u",
      UNIT_NAME,
      "-n",
      String(lines),
      ...(follow ? ["-f"] : ["--no-pager"]),
    ]);
  }

  async restartIfRunning(): Promise<boolean> {
    const state = await this.state();
    if (!state?.running) return false;
    await this.programs.must("systemctl", ["--user", "try-restart", UNIT_NAME]);
    return true;
  }

  async #read(): Promise<string | undefined> {
    try {
      return await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return undefined;
      throw new QwenError(`Cannot read "${this.path}": ${(error as Error).message}`);
    }
  }

  /** Whether the user's manager outlives their sessions (`loginctl enable-linger`). */
  async #lingers(): Promise<boolean> {
    if (this.uid === undefined) return false;
    const answer = await this.programs.call("loginctl", [
      "show-user",
      String(this.uid),
      "--property=Linger",
      "--value",
    ]);
    return answer.code === 0 && answer.stdout.trim() === "yes";
  }
}

/** systemctl --user finds no manager: a shell from sudo or su, or a session without one. */
function noUserManager(error: QwenError): QwenError {
  return new QwenError(
    `${error.message}. There is no systemd user manager for this session: log in as the user ` +
      "directly (not through sudo or su), or run it with XDG_RUNTIME_DIR=/run/user/$(id -u); " +
      'then run "qwen service install" again',
  );
}

function notOurs(path: string): QwenError {
  return new QwenError(
    `Refusing to replace "${path}": "qwen service install" did not write it (it may be your own ` +
      "unit, or one installed by hand from an older README). Move it away, or give --force",
  );
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0]?.trim() ?? "";
}
