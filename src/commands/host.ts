/**
 * The machine a command that installs things works on: its platform, this program's file, the
 * user, and the programs it runs (systemctl, launchctl, the new binary of an upgrade). Injected,
 * so that tests can say "macOS" on Linux, "a compiled binary" when running the source, and put
 * fake programs on PATH.
 */
import process from "node:process";
import { type Executable, type Runtime, runtime } from "../runtime/mod.ts";

export interface Host {
  /** `process.platform`: linux, darwin, win32, ... */
  readonly platform: string;
  /** `process.arch`: x64, arm64, ... */
  readonly arch: string;
  /** The user's id (launchd's `gui/<uid>` domain); undefined on Windows. */
  readonly uid: number | undefined;
  readonly executable: Executable;
  run: Runtime["run"];
}

export function systemHost(): Host {
  return {
    platform: process.platform,
    arch: process.arch,
    uid: process.getuid?.(),
    executable: runtime.executable(),
    run: (command, args, options) => runtime.run(command, args, options),
  };
}
