/**
 * What a release is made of, and how a folder of binaries becomes one. `npm run build` packages
 * dist/ this way after compiling; the release workflow packages again, after the smoke tests and
 * the macOS re-signing, the binaries that passed (docs/releases.md).
 */
import { createHash } from "node:crypto";
import { chmod, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import {
  archiveFile,
  binaryFile,
  CHECKSUMS_FILE,
  type Compiler,
  COMPILERS,
  INSTALL_SCRIPT_FILE,
  RELEASE_PLATFORMS,
  type ReleasePlatform,
  RELEASES_URL_PLACEHOLDER,
  VERSION_FILE,
} from "../../src/lib/release.ts";
import { tarGz, zip } from "./archive.ts";

export interface ReleaseBinary {
  platform: ReleasePlatform;
  compiler: Compiler;
  /** Its file name: `qwen-bun-linux-x64`. */
  file: string;
}

/** Every binary a release can have, Bun's first. */
export function allBinaries(): ReleaseBinary[] {
  return COMPILERS.flatMap((compiler) =>
    RELEASE_PLATFORMS.map((platform) => ({
      platform,
      compiler,
      file: binaryFile(platform, compiler),
    }))
  );
}

/** The files of a release holding `binaries`: each with its archive, then the rest. */
export function releaseFiles(binaries: readonly ReleaseBinary[]): string[] {
  return [
    ...binaries.flatMap((b) => [b.file, archiveFile(b.platform, b.compiler)]),
    VERSION_FILE,
    INSTALL_SCRIPT_FILE,
    CHECKSUMS_FILE,
  ];
}

/** This machine's binary in `dist`, as `npm run build` and `--host` write it. */
export function hostBinary(dist: string): string {
  return join(dist, process.platform === "win32" ? "qwen.exe" : "qwen");
}

/** The name of the one entry in a binary's archive. */
export function archiveEntry(platform: ReleasePlatform): string {
  return platform.startsWith("windows") ? "qwen.exe" : "qwen";
}

export interface PackageOptions {
  /** The folder holding the binaries; the release files are written beside them. */
  dir: string;
  version: string;
  /** scripts/install.sh, with RELEASES_URL_PLACEHOLDER where its default base URL goes. */
  installScript: string;
  releasesUrl: string;
  log?: (line: string) => void;
}

/**
 * Writes an archive for each binary in `dir`, `VERSION`, `install.sh` and `SHA256SUMS` over all
 * of them, and deletes any other release file found there (an archive whose binary is gone),
 * so the folder holds exactly the release. Returns its files, SHA256SUMS last.
 */
export async function packageRelease(options: PackageOptions): Promise<string[]> {
  const { dir, log = () => {} } = options;
  // The install script first: without it there is no release to make, archives or not.
  const install = await installScript(options.installScript, options.releasesUrl);
  const binaries: ReleaseBinary[] = [];
  for (const binary of allBinaries()) {
    if (await isFile(join(dir, binary.file))) binaries.push(binary);
  }
  if (binaries.length === 0) {
    throw new Error(
      `Cannot package a release in "${dir}": it holds no binary (${binaryFile("linux-x64")}, ...)`,
    );
  }
  const files = releaseFiles(binaries);
  for (const file of releaseFiles(allBinaries())) {
    if (!files.includes(file)) await rm(join(dir, file), { force: true });
  }

  for (const { platform, compiler, file } of binaries) {
    const path = join(dir, file);
    const data = await readFile(path);
    const mtime = Math.floor((await stat(path)).mtimeMs / 1000);
    const entry = { name: archiveEntry(platform), data, mtime };
    const archive = archiveFile(platform, compiler);
    await writeFile(join(dir, archive), archive.endsWith(".zip") ? zip(entry) : tarGz(entry));
    // Artifacts passed between jobs lose the mode; a release binary is executable.
    await chmod(path, 0o755);
    log(`wrote ${join(dir, archive)}`);
  }
  await writeFile(join(dir, VERSION_FILE), `${options.version}\n`);
  await writeFile(join(dir, INSTALL_SCRIPT_FILE), install, { mode: 0o755 });
  await chmod(join(dir, INSTALL_SCRIPT_FILE), 0o755);

  const summed = files.filter((file) => file !== CHECKSUMS_FILE);
  const lines = [];
  for (const file of [...summed].sort()) lines.push(`${await sha256(join(dir, file))}  ${file}`);
  await writeFile(join(dir, CHECKSUMS_FILE), lines.join("\n") + "\n");
  log(`wrote ${join(dir, CHECKSUMS_FILE)} (${summed.length} files)`);
  return files;
}

/** scripts/install.sh with the release's address as its default base URL. */
async function installScript(path: string, releasesUrl: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw error;
    throw new Error(
      `Cannot write ${INSTALL_SCRIPT_FILE}: "${path}" does not exist; a release needs the install script`,
    );
  }
  if (!text.includes(RELEASES_URL_PLACEHOLDER)) {
    throw new Error(
      `Cannot write ${INSTALL_SCRIPT_FILE}: "${path}" has no "${RELEASES_URL_PLACEHOLDER}" where its default base URL goes`,
    );
  }
  return text.replaceAll(RELEASES_URL_PLACEHOLDER, releasesUrl);
}

/**
 * The files to publish from a packaged folder, read from its SHA256SUMS and checked against it
 * (every listed file there with that hash, no release file left out), SHA256SUMS last.
 */
export async function checkedReleaseFiles(dir: string): Promise<string[]> {
  const sums = await readFile(join(dir, CHECKSUMS_FILE), "utf8");
  const files: string[] = [];
  for (const line of sums.split("\n").filter((l) => l !== "")) {
    const match = /^([0-9a-f]{64}) {2}([\w.-]+)$/.exec(line);
    if (!match) throw new Error(`Cannot read "${join(dir, CHECKSUMS_FILE)}": bad line "${line}"`);
    const [, hash, file] = match;
    if (!await isFile(join(dir, file))) {
      throw new Error(
        `Cannot publish "${join(dir, file)}": listed in ${CHECKSUMS_FILE} but missing`,
      );
    }
    if (await sha256(join(dir, file)) !== hash) {
      throw new Error(`Cannot publish "${join(dir, file)}": its SHA-256 is not the one listed`);
    }
    files.push(file);
  }
  for (const file of releaseFiles(allBinaries())) {
    if (file !== CHECKSUMS_FILE && !files.includes(file) && await isFile(join(dir, file))) {
      throw new Error(`Cannot publish "${dir}": "${file}" is not in ${CHECKSUMS_FILE}`);
    }
  }
  return [...files, CHECKSUMS_FILE];
}

async function sha256(path: string): Promise<string> {
  return createHash("sha256").update(await readFile(path)).digest("hex");
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
