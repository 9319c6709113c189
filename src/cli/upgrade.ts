/** `qwen upgrade`: its flags and help; the work is done in commands/upgrade/. */
import { UsageError } from "../lib/errors.ts";
import { RELEASES_URL } from "../lib/release.ts";
import { flagCommand } from "./command.ts";
import { flagsHelp, type FlagTable, HELP_FLAG } from "./flags.ts";

const UPGRADE_FLAGS = [
  {
    name: "version",
    value: "X",
    help: "Install release X (e.g. 0.2.0) instead of the latest; an older one too",
  },
  {
    name: "check",
    type: "boolean",
    help: "Only say whether a newer release exists (exit 0: up to date, 10: newer available)",
  },
  HELP_FLAG,
] as const satisfies FlagTable;

const USAGE = `Usage: qwen upgrade [--version X] [--check]

Replaces this qwen binary with the latest release (or release X) for this platform: downloaded
beside it, checked against the release's SHA256SUMS, tried ("--version", and "serve --check" with
the settings of the service "qwen service" installed), then put in its place in one rename. The
previous binary stays next to it as qwen.old until the next upgrade. An installed service that
runs is restarted. Refused when run from source, when the binary's folder is not writable, or
when a package manager put it there (/usr/bin, Homebrew, Nix, snap, ...): upgrade it with that.

Flags:
${flagsHelp(UPGRADE_FLAGS)}

Exit codes: 0 upgraded or up to date, 10 a newer release exists (--check), 1 failure, 2 usage.
Environment: QWEN_DOWNLOAD_URL replaces ${RELEASES_URL}
(a mirror with the same layout: latest/download/FILE, download/vX/FILE).
`;

export const upgradeCommand = flagCommand(
  "qwen upgrade",
  UPGRADE_FLAGS,
  USAGE,
  async (values, ctx) => {
    const [{ runUpgrade }, { versionArgument }, { systemHost }] = await Promise.all([
      import("../commands/upgrade/upgrade.ts"),
      import("../commands/upgrade/semver.ts"),
      import("../commands/host.ts"),
    ]);
    if (values.check && values.version !== undefined) {
      throw new UsageError('"--check" compares with the latest release: give it no "--version"');
    }
    const version = values.version === undefined
      ? undefined
      : versionArgument(values.version, "--version");
    return await runUpgrade({ version, check: values.check ?? false }, ctx, systemHost());
  },
);
