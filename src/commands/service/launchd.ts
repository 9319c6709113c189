/** `qwen service` on macOS: a launchd agent in the user's GUI domain, run by `launchctl`. */
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { QwenError } from "../../lib/errors.ts";
import { PLIST_MARKER, readPlist, renderPlist } from "./launchd-plist.ts";
import type { InstallSpec, ServiceCommand, ServiceManager, ServiceState } from "./manager.ts";
import { type Programs, writeReadableFile } from "./programs.ts";

export class LaunchdService implements ServiceManager {
  readonly #domain: string;
  readonly #target: string;

  constructor(
    readonly path: string,
    readonly name: string,
    private readonly log: string,
    private readonly programs: Programs,
    uid: number | undefined,
  ) {
    // A launchd agent belongs to the user's login session: the gui/<uid> domain.
    this.#domain = `gui/${uid ?? 0}`;
    this.#target = `${this.#domain}/${name}`;
  }

  async checkOurs(force: boolean): Promise<void> {
    const text = await this.#read();
    if (text !== undefined && !text.includes(PLIST_MARKER) && !force) throw notOurs(this.path);
  }

  async install(spec: InstallSpec): Promise<string[]> {
    await this.checkOurs(spec.force);
    const before = await this.#read();
    const plist = renderPlist({
      label: this.name,
      programArguments: [spec.binary, "serve", "--env-file", spec.envFile, ...spec.serveArgs],
      environment: spec.qwenHomeSet ? { QWEN_HOME: spec.qwenHome } : {},
      log: this.log,
    });
    const changed = plist !== before;
    await mkdir(dirname(this.log), { recursive: true, mode: 0o700 });
    if (changed) await writeReadableFile(this.path, plist);
    const loaded = await this.#loaded();
    if (changed || !loaded) {
      // launchd keeps the agent as it was loaded: a new file is read only by a new bootstrap.
      if (loaded) await this.programs.must("launchctl", ["bootout", this.#target]);
      // An agent once disabled (launchctl disable) refuses to bootstrap until enabled.
      await this.programs.must("launchctl", ["enable", this.#target]);
      await this.programs.must("launchctl", ["bootstrap", this.#domain, this.path]);
    } else {
      // The same agent: SIGHUP reads the env file again, as systemd's reload does.
      await this.programs.must("launchctl", ["kill", "SIGHUP", this.#target]);
    }
    return [
      `${changed ? (before === undefined ? "Wrote" : "Updated") : "Kept"} ${this.path}`,
      `${changed || !loaded ? "Started" : "Reloaded"} ${this.name}; its log: ${this.log}`,
    ];
  }

  async uninstall(force: boolean): Promise<string[] | undefined> {
    if ((await this.#read()) === undefined) return undefined;
    await this.checkOurs(force);
    const lines: string[] = [];
    if (await this.#loaded()) {
      const stopped = await this.programs.call("launchctl", ["bootout", this.#target]);
      if (stopped.code !== 0) {
        lines.push(`Could not stop ${this.name} (${stopped.stderr.trim()}); removing it anyway`);
      }
    }
    await rm(this.path, { force: true });
    lines.push(`Stopped ${this.name} and removed ${this.path}; kept its log ${this.log}`);
    return lines;
  }

  async command(): Promise<ServiceCommand | undefined> {
    const text = await this.#read();
    if (text === undefined || !text.includes(PLIST_MARKER)) return undefined;
    const plist = readPlist(text);
    if (plist === undefined || plist.programArguments.length === 0) return undefined;
    const [binary, ...args] = plist.programArguments;
    return { binary, args, env: plist.environment };
  }

  async state(): Promise<ServiceState | undefined> {
    if ((await this.#read()) === undefined) return undefined;
    const printed = await this.programs.call("launchctl", ["print", this.#target]);
    if (printed.code !== 0) return { summary: "not loaded", running: false };
    const state = /^\s*state = (.+)$/m.exec(printed.stdout)?.[1]?.trim() ?? "unknown";
    const pid = /^\s*pid = (\d+)$/m.exec(printed.stdout)?.[1];
    return {
      summary: `loaded, ${state}${pid ? `, pid ${pid}` : ""}`,
      running: state === "running",
    };
  }

  async logs(lines: number, follow: boolean): Promise<number> {
    try {
      await stat(this.log);
    } catch {
      throw new QwenError(`No log yet: "${this.log}" does not exist`);
    }
    return await this.programs.follow("tail", [
      "-n",
      String(lines),
      ...(follow ? ["-f"] : []),
      this.log,
    ]);
  }

  async restartIfRunning(): Promise<boolean> {
    if (!(await this.state())?.running) return false;
    // -k: kill the running instance first; launchd starts it again from the same file.
    await this.programs.must("launchctl", ["kickstart", "-k", this.#target]);
    return true;
  }

  async #loaded(): Promise<boolean> {
    return (await this.programs.call("launchctl", ["print", this.#target])).code === 0;
  }

  async #read(): Promise<string | undefined> {
    try {
      return await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return undefined;
      throw new QwenError(`Cannot read "${this.path}": ${(error as Error).message}`);
    }
  }
}

function notOurs(path: string): QwenError {
  return new QwenError(
    `Refusing to replace "${path}": "qwen service install" did not write it. Move it away, or ` +
      "give --force",
  );
}
