/**
 * Opening the verification URL in the default browser. The decision is a pure function
 * (`browserDecision`) so it can be tested without launching anything; `openBrowser` only
 * carries it out, through the runtime's detached spawn.
 */
import type { Runtime } from "../runtime/types.ts";

type Env = Readonly<Record<string, string | undefined>>;

interface BrowserDecisionInput {
  /** `process.platform`: "linux", "darwin", "win32", ... */
  platform: string;
  env: Env;
  /** `--no-browser` was given. */
  noBrowser?: boolean;
}

type BrowserDecision =
  | { open: true; command: string; args: string[] }
  | { open: false; reason: string };

export type BrowserResult =
  | { opened: true; command: string }
  | { opened: false; reason: string };

/** A variable counts as set when it is present and not empty, "0" or "false". */
function isSet(value: string | undefined): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  return v !== "" && v !== "0" && v !== "false";
}

/** Whether and how to open `url`: never launches anything itself. */
export function browserDecision(url: string, input: BrowserDecisionInput): BrowserDecision {
  const { env, platform } = input;
  if (input.noBrowser) return { open: false, reason: "--no-browser was given" };
  if (isSet(env.NO_BROWSER)) return { open: false, reason: "NO_BROWSER is set" };
  if (isSet(env.CI)) return { open: false, reason: "running under CI" };
  for (const name of ["SSH_CONNECTION", "SSH_TTY", "SSH_CLIENT"]) {
    // A browser would open on the remote machine, not in front of the person.
    if (env[name]) return { open: false, reason: `SSH session (${name} is set)` };
  }
  switch (platform) {
    case "darwin":
      return { open: true, command: "open", args: [url] };
    case "win32":
      // `start` is a cmd.exe built-in; its first quoted argument is the window title (the
      // empty argument reaches cmd.exe as ""), and cmd.exe would split the URL at "&" (and
      // treat ^|<>() specially) unless escaped with "^".
      return {
        open: true,
        command: "cmd",
        args: ["/c", "start", "", url.replace(/[&^|<>()]/g, "^$&")],
      };
    default:
      // Linux and the BSDs: without a display server there is no browser to show.
      if (!env.DISPLAY && !env.WAYLAND_DISPLAY) {
        return { open: false, reason: "no display (DISPLAY and WAYLAND_DISPLAY are unset)" };
      }
      return { open: true, command: "xdg-open", args: [url] };
  }
}

/**
 * Opens `url` unless the rules above say not to. Never throws: a missing opener becomes a
 * `{opened: false}` with the reason.
 */
export async function openBrowser(
  url: string,
  input: BrowserDecisionInput & { runtime: Pick<Runtime, "spawnDetached"> },
): Promise<BrowserResult> {
  const decision = browserDecision(url, input);
  if (!decision.open) return { opened: false, reason: decision.reason };
  let started = false;
  try {
    started = await input.runtime.spawnDetached(decision.command, decision.args);
  } catch {
    started = false;
  }
  return started
    ? { opened: true, command: decision.command }
    : { opened: false, reason: `could not run "${decision.command}"` };
}
