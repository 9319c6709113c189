/**
 * Fetching release files: the small ones (VERSION, SHA256SUMS) whole, the binary streamed to
 * disk beside the running one while its SHA-256 is computed, and taken out of its .tar.gz on the
 * way (DecompressionStream and a one-entry tar reader), so that no second copy is written.
 */
import { createHash } from "node:crypto";
import { chmod, open, rm } from "node:fs/promises";
import { readAtMost } from "../../lib/bytes.ts";
import type { Context } from "../../lib/context.ts";
import { describeError, QwenError } from "../../lib/errors.ts";
import { extractTarEntry } from "./tar.ts";

/** VERSION and SHA256SUMS are a few lines: a server that takes longer is not answering. */
const SMALL_FILE_TIMEOUT_MS = 30_000;
const SMALL_FILE_MAX_BYTES = 1024 * 1024;

export async function fetchSmallFile(ctx: Context, url: string): Promise<string> {
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(SMALL_FILE_TIMEOUT_MS)]);
  const response = await get(ctx, url, signal);
  const { bytes, over } = await readAtMost(response.body!, SMALL_FILE_MAX_BYTES);
  if (over) {
    throw new QwenError(
      `Cannot use "${url}": over ${SMALL_FILE_MAX_BYTES} bytes, expected a few lines`,
    );
  }
  return new TextDecoder().decode(bytes);
}

/** `sha256sum` output: "<hex>  <file>" (or "<hex> *<file>") per line → file → hex. */
export function parseChecksums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([0-9a-fA-F]{64}) [ *](.+?)\r?$/.exec(line);
    if (match) sums.set(match[2], match[1].toLowerCase());
  }
  return sums;
}

/**
 * Downloads `url` into a new file `path` (mode 0755), its `entry` taken out of the .tar.gz when
 * one is given, and answers the SHA-256 of what was downloaded. Nothing is left at `path` when
 * it fails.
 */
export async function downloadBinary(
  ctx: Context,
  url: string,
  path: string,
  entry: string | undefined,
): Promise<string> {
  const response = await get(ctx, url, ctx.signal);
  const hash = createHash("sha256");
  const hashed = response.body!.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hash.update(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
  const file = await open(path, "wx", 0o755).catch((error) => {
    throw new QwenError(`Cannot write "${path}": ${(error as Error).message}`);
  });
  try {
    const write = async (chunk: Uint8Array) => {
      let at = 0;
      while (at < chunk.length) at += (await file.write(chunk, at)).bytesWritten;
    };
    if (entry === undefined) {
      for await (const chunk of hashed) await write(chunk);
    } else {
      const tar = hashed.pipeThrough(
        new DecompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>,
      );
      let found: boolean;
      try {
        found = await extractTarEntry(tar, entry, write);
      } catch (error) {
        if (error instanceof QwenError || ctx.signal.aborted) throw error;
        throw new QwenError(`Cannot read the release archive "${url}": ${describeError(error)}`);
      }
      if (!found) throw new QwenError(`The release archive "${url}" holds no "${entry}"`);
    }
    await file.sync();
    await file.close();
    // The umask may have taken bits off at creation.
    await chmod(path, 0o755);
    return hash.digest("hex");
  } catch (error) {
    await file.close().catch(() => {});
    await rm(path, { force: true });
    if (error instanceof QwenError || ctx.signal.aborted) throw error;
    throw new QwenError(`Cannot download "${url}" to "${path}": ${describeError(error)}`);
  }
}

async function get(ctx: Context, url: string, signal: AbortSignal): Promise<Response> {
  let response: Response;
  try {
    response = await ctx.fetch(url, { signal });
  } catch (error) {
    if (ctx.signal.aborted) throw error;
    throw new QwenError(`Cannot download "${url}": ${describeError(error)}`);
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new QwenError(`Cannot download "${url}": the server answered ${response.status}`);
  }
  return response;
}
