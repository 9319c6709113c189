/** What `qwen service` asks of a service manager (systemd, launchd). */

export interface InstallSpec {
  /** The binary's absolute path. */
  binary: string;
  /** Flags of `qwen serve` (no secrets, no --env-file). */
  serveArgs: readonly string[];
  envFile: string;
  qwenHome: string;
  /** Whether QWEN_HOME was set: the service then gets it too. */
  qwenHomeSet: boolean;
  /** Replace a file at our path that we did not write. */
  force: boolean;
}

/** What an installed service runs, read back from the file install wrote. */
export interface ServiceCommand {
  binary: string;
  /** After the binary: `serve --env-file PATH ...flags`. */
  args: string[];
  /** Variables the manager sets for it (QWEN_HOME). */
  env: Record<string, string>;
}

export interface ServiceState {
  /** The manager's own words: "enabled, active", "running, pid 123", "not loaded". */
  summary: string;
  running: boolean;
}

export interface ServiceManager {
  /** The unit or agent file. */
  readonly path: string;
  /** "qwen.service", or the launchd label. */
  readonly name: string;
  /** Refuses when a file install did not write is at its path, unless `force`. */
  checkOurs(force: boolean): Promise<void>;
  /** Writes the file, (re)starts the service; the lines say what was done. */
  install(spec: InstallSpec): Promise<string[]>;
  /** Stops the service and removes the file; undefined when there was nothing to remove. */
  uninstall(force: boolean): Promise<string[] | undefined>;
  /** What the installed service runs; undefined when no file of ours is there. */
  command(): Promise<ServiceCommand | undefined>;
  /** Undefined when the file is not there. */
  state(): Promise<ServiceState | undefined>;
  /** Prints the last `lines` lines of its log, and then follows it. */
  logs(lines: number, follow: boolean): Promise<number>;
  /** Restarts it if it runs; says whether it did. */
  restartIfRunning(): Promise<boolean>;
}
