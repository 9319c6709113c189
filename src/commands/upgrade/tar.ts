/**
 * Reading one file out of a tar stream (POSIX ustar, with the pax and GNU long-name entries that
 * `tar` programs add), as it arrives: a release archive holds one entry, `qwen`, and `qwen
 * upgrade` writes it out while the download is still being hashed. The whole stream is always
 * read, so that whatever taps it upstream (the checksum) sees every byte.
 */
import { concatBytes } from "../../lib/bytes.ts";
import { QwenError } from "../../lib/errors.ts";

const BLOCK = 512;

/** Pax and GNU long-name data are names and a few numbers: anything larger is not a tar of ours. */
const MAX_META_BYTES = 64 * 1024;

type Sink =
  | { kind: "write" }
  | { kind: "skip" }
  | { kind: "meta"; type: "pax" | "longname"; parts: Uint8Array[]; size: number };

/**
 * Passes the data of the regular file called `name` (a leading `./` aside) to `write`, and
 * answers whether there was one. A stream that is not a tar archive is an error.
 */
export async function extractTarEntry(
  tar: ReadableStream<Uint8Array>,
  name: string,
  write: (chunk: Uint8Array) => Promise<void>,
): Promise<boolean> {
  let found = false;
  let ended = false;
  let header = new Uint8Array(BLOCK);
  let headerFill = 0;
  /** Bytes of the current entry still to come, then its padding to a block. */
  let remaining = 0;
  let padding = 0;
  let sink = { kind: "skip" } as Sink;
  let nextName: string | undefined;

  const finishEntry = () => {
    if (sink.kind !== "meta") return;
    const data = concatBytes(sink.parts);
    if (sink.type === "longname") nextName = decode(data).replace(/\0.*$/s, "");
    else nextName = paxPath(data) ?? nextName;
  };

  const readHeader = () => {
    if (header.every((byte) => byte === 0)) {
      ended = true;
      return;
    }
    if (!checksumOk(header)) throw notTar("a header's checksum does not match");
    const size = readSize(header.subarray(124, 136));
    const type = String.fromCharCode(header[156]);
    const prefix = isUstar(header) ? cString(header.subarray(345, 500)) : "";
    const own = cString(header.subarray(0, 100));
    const entryName = nextName ?? (prefix ? `${prefix}/${own}` : own);
    remaining = size;
    padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if (type === "x" || type === "L") {
      if (size > MAX_META_BYTES) throw notTar(`a ${type} entry of ${size} bytes`);
      sink = { kind: "meta", type: type === "x" ? "pax" : "longname", parts: [], size };
      return;
    }
    nextName = undefined;
    const regular = type === "0" || type === "\0" || type === "7";
    if (regular && !found && entryName.replace(/^(\.\/)+/, "") === name) {
      found = true;
      sink = { kind: "write" };
    } else {
      sink = { kind: "skip" };
    }
  };

  for await (const chunk of tar) {
    let at = 0;
    while (at < chunk.length) {
      if (ended) {
        // The end blocks and whatever a writer put after them: read, never interpreted.
        at = chunk.length;
        break;
      }
      if (remaining > 0) {
        const part = chunk.subarray(at, at + Math.min(remaining, chunk.length - at));
        at += part.length;
        remaining -= part.length;
        if (sink.kind === "write") await write(part);
        else if (sink.kind === "meta") sink.parts.push(part.slice());
        if (remaining === 0 && padding === 0) finishEntry();
        continue;
      }
      if (padding > 0) {
        const skipped = Math.min(padding, chunk.length - at);
        at += skipped;
        padding -= skipped;
        if (padding === 0) finishEntry();
        continue;
      }
      const copied = Math.min(BLOCK - headerFill, chunk.length - at);
      header.set(chunk.subarray(at, at + copied), headerFill);
      headerFill += copied;
      at += copied;
      if (headerFill < BLOCK) continue;
      headerFill = 0;
      readHeader();
      if (!ended && remaining === 0 && padding === 0) finishEntry();
      header = new Uint8Array(BLOCK);
    }
  }
  if (!ended && (remaining > 0 || padding > 0 || headerFill > 0)) {
    throw notTar("it ends in the middle of an entry");
  }
  return found;
}

function notTar(reason: string): QwenError {
  return new QwenError(`Cannot read the release archive: not a tar archive (${reason})`);
}

/** The header's checksum: the sum of its bytes with the checksum field read as spaces. */
function checksumOk(header: Uint8Array): boolean {
  const stored = parseInt(cString(header.subarray(148, 156)).trim(), 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
  return stored === sum;
}

/** Octal digits, or GNU's base-256 form for sizes past 8 GiB (first byte's high bit set). */
function readSize(field: Uint8Array): number {
  if (field[0] & 0x80) {
    let size = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) size = size * 256 + field[i];
    return size;
  }
  const text = cString(field).trim();
  const size = text === "" ? 0 : parseInt(text, 8);
  if (!Number.isSafeInteger(size) || size < 0) throw notTar(`a size field of "${text}"`);
  return size;
}

function isUstar(header: Uint8Array): boolean {
  return decode(header.subarray(257, 262)) === "ustar";
}

/** A pax header's `path` record: lines of "LENGTH key=value\n". */
function paxPath(data: Uint8Array): string | undefined {
  let path: string | undefined;
  for (const record of decode(data).split("\n")) {
    const match = /^\d+ ([^=]+)=(.*)$/s.exec(record);
    if (match?.[1] === "path") path = match[2];
  }
  return path;
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decode(end === -1 ? bytes : bytes.subarray(0, end));
}

function decode(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
