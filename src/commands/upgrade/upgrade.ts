/**
 * `qwen upgrade [--version X] [--check]`: replaces the running binary with a release's, checked
 * against the release's SHA256SUMS, tried (`--version`, and `serve --check` with the installed
 * service's settings) before it takes the old one's place in one rename, and restarts the service.
 * The steps and their reasons: docs/upgrade.md.
 */
import { rm } from "node:fs/promises";
import type { Context } from "../../lib/context.ts";
import { ExitCode, QwenError } from "../../lib/errors.ts";
import {
  archiveFile,
  binaryFile,
  CHECKSUMS_FILE,
  RELEASE_PLATFORMS,
  releaseFileUrl,
  type ReleasePlatform,
  RELEASES_URL,
  VERSION_FILE,
} from "../../lib/release.ts";
import { VERSION } from "../../lib/version.ts";
import type { Host } from "../host.ts";
import { serviceManager } from "../service/service.ts";
import { downloadBinary, fetchSmallFile, parseChecksums } from "./download.ts";
import {
  binaryToReplace,
  checkWritable,
  downloadPath,
  oldBinaryPath,
  removeStaleDownloads,
  swapBinary,
} from "./placement.ts";
import { compareVersions, normalizeVersion } from "./semver.ts";

interface UpgradeOptions {
  /** A release to install instead of the latest (normalized, no "v"). */
  version?: string;
  /** Only say whether a newer release exists. */
  check: boolean;
}

/** How long the new binary may take to answer `--version` or `serve --check`. */
const TRY_TIMEOUT_MS = 60_000;

export async function runUpgrade(
  options: UpgradeOptions,
  ctx: Context,
  host: Host,
): Promise<number> {
  const base = ctx.env.QWEN_DOWNLOAD_URL?.trim() || RELEASES_URL;
  if (options.check) return await check(ctx, base);

  const executable = host.executable;
  if (!executable.compiled) {
    throw new QwenError(
      `Cannot upgrade from source: the running program is "${executable.path}" (the ` +
        `${executable.runtime} runtime), not a qwen binary. Update the checkout (git pull), or ` +
        "install a release binary and upgrade that",
    );
  }
  const binary = await binaryToReplace(executable.path);
  const platform = releasePlatform(host);
  const old = oldBinaryPath(binary);
  // The previous upgrade's binary is kept until this run (docs/upgrade.md).
  await rm(old, { force: true }).catch(() => {});
  await checkWritable(binary);
  await removeStaleDownloads(binary);

  const latest = options.version === undefined ? await latestVersion(ctx, base) : undefined;
  const wanted = options.version ?? latest!;
  const order = compareVersions(wanted, VERSION);
  if (order === 0 || (latest !== undefined && order < 0)) {
    ctx.stdout(
      order === 0
        ? `qwen ${VERSION} is already installed: nothing to do\n`
        : `This qwen (${VERSION}) is newer than the latest release (${latest}): nothing to do\n`,
    );
    return ExitCode.ok;
  }

  // From the release's own folder, even for the latest: "latest" may move while we download.
  const sums = parseChecksums(
    await fetchSmallFile(ctx, releaseFileUrl(base, CHECKSUMS_FILE, wanted)),
  );
  const file = pickFile(platform, executable.runtime, sums, wanted);
  const url = releaseFileUrl(base, file.name, wanted);
  const fresh = downloadPath(binary);
  ctx.stderr(`Downloading ${url}\n`);
  const digest = await downloadBinary(ctx, url, fresh, file.entry);
  try {
    if (digest !== file.sha256) {
      throw new QwenError(
        `Checksum mismatch for "${file.name}": ${CHECKSUMS_FILE} of v${wanted} says ` +
          `${file.sha256}, the download is ${digest}. It was deleted; nothing was changed`,
      );
    }
    await tryVersion(ctx, host, fresh, wanted);
    const service = await serviceOf(ctx, host, binary);
    if (service.checkArgs !== undefined) {
      await tryService(ctx, host, fresh, service.checkArgs, service.env);
    }
    await swapBinary(binary, fresh, old, host.platform === "win32").catch((error) => {
      throw new QwenError(`Cannot put the new binary in place of "${binary}": ${error.message}`);
    });
    const lines = [
      `Upgraded ${binary}: ${VERSION} → ${wanted} (the previous one stays as ${old} until the ` +
      'next "qwen upgrade")',
    ];
    if (service.note) lines.push(service.note);
    if (service.manager !== undefined) {
      lines.push(
        (await service.manager.restartIfRunning())
          ? `Restarted ${service.manager.name}`
          : `${service.manager.name} is not running: not started`,
      );
    }
    ctx.stdout(`${lines.join("\n")}\n`);
    return ExitCode.ok;
  } finally {
    await rm(fresh, { force: true });
  }
}

async function check(ctx: Context, base: string): Promise<number> {
  const latest = await latestVersion(ctx, base);
  if (compareVersions(latest, VERSION) > 0) {
    ctx.stdout(`qwen ${latest} is available (this is ${VERSION}): run "qwen upgrade"\n`);
    return ExitCode.updateAvailable;
  }
  ctx.stdout(`qwen ${VERSION} is up to date (latest release: ${latest})\n`);
  return ExitCode.ok;
}

async function latestVersion(ctx: Context, base: string): Promise<string> {
  const url = releaseFileUrl(base, VERSION_FILE);
  const text = await fetchSmallFile(ctx, url);
  const version = normalizeVersion(text.split("\n")[0] ?? "");
  if (version === undefined) {
    throw new QwenError(`Cannot read the latest version from "${url}": it holds no version`);
  }
  return version;
}

function releasePlatform(host: Host): ReleasePlatform {
  const os = host.platform === "win32" ? "windows" : host.platform;
  const name = `${os}-${host.arch}`;
  if (!(RELEASE_PLATFORMS as readonly string[]).includes(name)) {
    throw new QwenError(
      `No release binary for this platform ("${name}"): releases have ${
        RELEASE_PLATFORMS.join(", ")
      }`,
    );
  }
  return name as ReleasePlatform;
}

/**
 * The release file to download: the .tar.gz, half the size of the binary (docs/upgrade.md);
 * the plain binary where there is no .tar.gz listed, and on Windows, whose archive is a .zip.
 */
function pickFile(
  platform: ReleasePlatform,
  compiler: "bun" | "deno",
  sums: Map<string, string>,
  version: string,
): { name: string; sha256: string; entry?: string } {
  const archive = archiveFile(platform, compiler);
  const plain = binaryFile(platform, compiler);
  if (archive.endsWith(".tar.gz") && sums.has(archive)) {
    return { name: archive, sha256: sums.get(archive)!, entry: "qwen" };
  }
  if (sums.has(plain)) return { name: plain, sha256: sums.get(plain)! };
  throw new QwenError(
    `Release v${version} has no binary for this one ("${plain}" is not in its ${CHECKSUMS_FILE})`,
  );
}

/** The new binary must run here and be the version asked for. */
async function tryVersion(ctx: Context, host: Host, fresh: string, wanted: string): Promise<void> {
  const result = await host.run(fresh, ["--version"], {
    env: minimalEnv(ctx),
    signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(TRY_TIMEOUT_MS)]),
  });
  const said = result.stdout.trim();
  if (result.code !== 0 || said !== wanted) {
    throw new QwenError(
      `The new binary does not run as expected here ("--version" exited ${result.code} and ` +
        `printed "${said.slice(0, 80)}", expected "${wanted}"); nothing was changed`,
    );
  }
}

/** The installed service of this binary: how to check its configuration, and its manager. */
async function serviceOf(ctx: Context, host: Host, binary: string) {
  const manager = serviceManager(host, ctx);
  const command = await manager?.command();
  if (manager === undefined || command === undefined) return {};
  const runs = await binaryToReplace(command.binary).catch(() => command.binary);
  if (runs !== binary) {
    return {
      note: `${manager.name} runs "${command.binary}", not this binary: not checked nor restarted`,
    };
  }
  const [serve, ...flags] = command.args;
  return {
    manager,
    checkArgs: serve === "serve" ? ["serve", "--check", ...flags] : undefined,
    env: command.env,
  };
}

/** `serve --check` with the service's flags and env file: would the new one start? */
async function tryService(
  ctx: Context,
  host: Host,
  fresh: string,
  args: string[],
  env: Record<string, string> | undefined,
): Promise<void> {
  const result = await host.run(fresh, args, {
    env: { ...minimalEnv(ctx), ...env },
    signal: AbortSignal.any([ctx.signal, AbortSignal.timeout(TRY_TIMEOUT_MS)]),
  });
  if (result.code !== 0) {
    const said = result.stderr.trim().split("\n").slice(-5).join("\n  ");
    throw new QwenError(
      `The new version would not start the installed service: "qwen serve --check" with its ` +
        `settings exited ${result.code}${said ? `:\n  ${said}\n` : ". "}Nothing was changed; ` +
        'fix the service\'s settings ("qwen service install -- FLAGS", or its env file) and run ' +
        '"qwen upgrade" again',
    );
  }
}

/** What a service gets from its manager, roughly: no variables of this shell. */
function minimalEnv(ctx: Context): Record<string, string | undefined> {
  return { PATH: ctx.env.PATH, HOME: ctx.env.HOME };
}
