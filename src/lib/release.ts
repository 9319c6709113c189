/**
 * Where releases live and what they are called, derived from package.json's `repository` (the
 * one place the address is written). The install script, `qwen upgrade`, the build and the
 * release workflow all follow this layout: GitHub's, under one base URL that QWEN_DOWNLOAD_URL
 * replaces (mirrors, tests).
 *   $BASE/latest/download/<file>     the latest release
 *   $BASE/download/v<X>/<file>       release X
 */
import pkg from "../../package.json" with { type: "json" };

/** `https://github.com/OWNER/NAME`, from `git+https://github.com/OWNER/NAME.git`. */
export const REPOSITORY_URL: string = pkg.repository.url
  .replace(/^git\+/, "")
  .replace(/\.git$/, "");

export const RELEASES_URL = `${REPOSITORY_URL}/releases`;

/** The platforms a release has binaries for, by their name in the files' names. */
export const RELEASE_PLATFORMS = [
  "linux-x64",
  "linux-arm64",
  "darwin-x64",
  "darwin-arm64",
  "windows-x64",
] as const;

export type ReleasePlatform = typeof RELEASE_PLATFORMS[number];

/** The compilers a release has binaries of: Bun's always, Deno's where its runtime was fetched. */
export const COMPILERS = ["bun", "deno"] as const;

export type Compiler = typeof COMPILERS[number];

/** Checksums of every other file of a release, in `sha256sum` format. */
export const CHECKSUMS_FILE = "SHA256SUMS";
/** The release's version, one line without a "v" (e.g. "0.2.0\n"). */
export const VERSION_FILE = "VERSION";

/** `qwen-bun-linux-x64`, `qwen-bun-windows-x64.exe`: the plain binary. */
export function binaryFile(platform: ReleasePlatform, compiler: Compiler = "bun"): string {
  return `qwen-${compiler}-${platform}${platform.startsWith("windows") ? ".exe" : ""}`;
}

/** The same binary, compressed: one entry named `qwen` (`qwen.exe`) in a .tar.gz (.zip). */
export function archiveFile(platform: ReleasePlatform, compiler: Compiler = "bun"): string {
  return `qwen-${compiler}-${platform}${platform.startsWith("windows") ? ".zip" : ".tar.gz"}`;
}

/** The URL of a release's file; `version` undefined means the latest. */
export function releaseFileUrl(base: string, file: string, version?: string): string {
  const root = base.replace(/\/+$/, "");
  return version === undefined
    ? `${root}/latest/download/${file}`
    : `${root}/download/v${version.replace(/^v/, "")}/${file}`;
}

/** The install script (scripts/install.sh with its default base URL filled in). */
export const INSTALL_SCRIPT_FILE = "install.sh";
/** Where scripts/install.sh has its default base URL; the build puts RELEASES_URL there. */
export const RELEASES_URL_PLACEHOLDER = "@RELEASES_URL@";
