/**
 * Fake releases: a temporary folder laid out as GitHub serves a repository's releases, under one
 * base URL, served on loopback with every request recorded.
 *   <base>/latest/download/<file>     the latest release
 *   <base>/download/v<X>/<file>       release X
 * Release files are built here: fake "binaries" (small sh scripts), real .tar.gz archives of them
 * (made with the system's tar) and SHA256SUMS.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, normalize } from "node:path";
import type { Server } from "../../src/runtime/mod.ts";
import { CHECKSUMS_FILE, VERSION_FILE } from "../../src/lib/release.ts";
import { startServer } from "./with-server.ts";

export type ReleaseFiles = Record<string, string | Uint8Array>;

/** `sha256sum` output over `files`: `<hex>  <file>` lines. */
export function sha256Sums(files: ReleaseFiles): string {
  return Object.entries(files)
    .map(([name, content]) => `${createHash("sha256").update(content).digest("hex")}  ${name}\n`)
    .join("");
}

/** A .tar.gz holding one entry `name` (mode 0755) with `content`, made by the system's tar. */
export async function tarGz(name: string, content: string | Uint8Array): Promise<Uint8Array> {
  const dir = await mkdtemp(join(tmpdir(), "qwen-tar-"));
  try {
    await mkdir(join(dir, "in"));
    await writeFile(join(dir, "in", name), content, { mode: 0o755 });
    await new Promise<void>((resolve, reject) =>
      execFile(
        "tar",
        ["-czf", join(dir, "out.tar.gz"), "-C", join(dir, "in"), name],
        (error) => (error ? reject(error) : resolve()),
      )
    );
    return new Uint8Array(await readFile(join(dir, "out.tar.gz")));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Writes release `version` (no "v") under `root`: its files, SHA256SUMS (`sums`, else computed
 * over the files) and VERSION; with `latest`, the same files under latest/download/ too.
 */
export async function writeRelease(
  root: string,
  version: string,
  files: ReleaseFiles,
  options: { sums?: string; latest?: boolean } = {},
): Promise<void> {
  const all: ReleaseFiles = {
    ...files,
    [CHECKSUMS_FILE]: options.sums ?? sha256Sums(files),
    [VERSION_FILE]: `${version}\n`,
  };
  const folders = [join(root, "download", `v${version}`)];
  if (options.latest) folders.push(join(root, "latest", "download"));
  for (const folder of folders) {
    await mkdir(folder, { recursive: true });
    for (const [name, content] of Object.entries(all)) {
      await writeFile(join(folder, name), content);
    }
  }
}

export interface ReleaseRequest {
  /** The path asked for, e.g. `/download/v0.2.0/SHA256SUMS`. */
  path: string;
  userAgent: string;
  status: number;
}

export interface RunningReleases {
  server: Server;
  /** The base URL (QWEN_DOWNLOAD_URL). */
  url: string;
  requests: ReleaseRequest[];
  close(): Promise<void>;
}

/** Serves `root` read-only on 127.0.0.1 (port 0): 200 with the file, 404 for anything else. */
export async function startReleases(root: string): Promise<RunningReleases> {
  const requests: ReleaseRequest[] = [];
  const server = await startServer(async (request) => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    const file = normalize(join(root, path));
    let response: Response;
    if (request.method !== "GET" || !file.startsWith(root + "/")) {
      response = new Response("not found\n", { status: 404 });
    } else {
      try {
        response = new Response(new Uint8Array(await readFile(file)), {
          headers: { "content-type": "application/octet-stream" },
        });
      } catch {
        response = new Response("not found\n", { status: 404 });
      }
    }
    requests.push({
      path,
      userAgent: request.headers.get("user-agent") ?? "",
      status: response.status,
    });
    return response;
  });
  return { server, url: server.url.replace(/\/$/, ""), requests, close: () => server.close(true) };
}
