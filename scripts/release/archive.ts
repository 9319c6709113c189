/**
 * The one-entry archives of a release: `<file>.tar.gz` holding `qwen`, `<file>.zip` holding
 * `qwen.exe`. Written here with node:zlib rather than by `tar` and `zip`, so the build makes the
 * same bytes on every machine (no zip on Windows runners, bsdtar on macOS adds its own headers)
 * and the entry is executable whatever mode the binary had (artifacts lose it between jobs).
 * A binary is ~110 MB; both formats' limits (8 GiB for ustar, 4 GiB without zip64) are far off.
 */
import { deflateRawSync, gzipSync } from "node:zlib";
import { concatBytes } from "../../src/lib/bytes.ts";

/** Mode of the entry: an executable file, rwxr-xr-x. */
const EXECUTABLE = 0o755;

export interface ArchiveEntry {
  /** The entry's name: a plain file name, no folders. */
  name: string;
  data: Uint8Array;
  /** Modification time, seconds since the epoch. */
  mtime: number;
}

/** A gzip-compressed POSIX ustar archive of one regular file. */
export function tarGz(entry: ArchiveEntry): Uint8Array {
  checkEntry(entry, 0o77777777777);
  const header = new Uint8Array(512);
  const field = (offset: number, length: number, text: string) =>
    header.set(new TextEncoder().encode(text).subarray(0, length), offset);
  const octal = (offset: number, length: number, value: number) =>
    field(offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
  field(0, 100, entry.name);
  octal(100, 8, EXECUTABLE);
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, entry.data.byteLength);
  octal(136, 12, Math.floor(entry.mtime));
  field(148, 8, " ".repeat(8)); // the checksum counts its own field as spaces
  field(156, 1, "0"); // a regular file
  field(257, 8, "ustar\x0000");
  const checksum = header.reduce((sum, byte) => sum + byte, 0);
  field(148, 8, checksum.toString(8).padStart(6, "0") + "\0 ");

  // Data padded to 512-byte blocks, two zero blocks to end, and the whole padded to tar's
  // usual 10 KiB record.
  const dataBlocks = Math.ceil(entry.data.byteLength / 512) * 512;
  const size = Math.ceil((512 + dataBlocks + 1024) / 10240) * 10240;
  const tar = new Uint8Array(size);
  tar.set(header, 0);
  tar.set(entry.data, 512);
  return gzipSync(tar);
}

/** A zip archive of one deflated file, marked as made on Unix with mode 0755. */
export function zip(entry: ArchiveEntry): Uint8Array {
  checkEntry(entry, 0xffffffff);
  const name = new TextEncoder().encode(entry.name);
  const compressed = deflateRawSync(entry.data);
  if (compressed.byteLength > 0xffffffff) {
    throw new Error(`Cannot zip "${entry.name}": over 4 GiB compressed needs zip64`);
  }
  const crc = crc32(entry.data);
  const { time, date } = dosTime(entry.mtime);

  const local = new DataView(new ArrayBuffer(30));
  local.setUint32(0, 0x04034b50, true);
  local.setUint16(4, 20, true); // version needed: 2.0 (deflate)
  local.setUint16(6, 0, true); // flags: sizes and CRC are in this header
  local.setUint16(8, 8, true); // method: deflate
  local.setUint16(10, time, true);
  local.setUint16(12, date, true);
  local.setUint32(14, crc, true);
  local.setUint32(18, compressed.byteLength, true);
  local.setUint32(22, entry.data.byteLength, true);
  local.setUint16(26, name.byteLength, true);
  local.setUint16(28, 0, true);

  const central = new DataView(new ArrayBuffer(46));
  central.setUint32(0, 0x02014b50, true);
  central.setUint16(4, (3 << 8) | 20, true); // made by: Unix, so unzip applies the mode below
  central.setUint16(6, 20, true);
  central.setUint16(8, 0, true);
  central.setUint16(10, 8, true);
  central.setUint16(12, time, true);
  central.setUint16(14, date, true);
  central.setUint32(16, crc, true);
  central.setUint32(20, compressed.byteLength, true);
  central.setUint32(24, entry.data.byteLength, true);
  central.setUint16(28, name.byteLength, true);
  // extra, comment, disk number, internal attributes: 0
  central.setUint32(38, ((0o100000 | EXECUTABLE) << 16) >>> 0, true); // a regular file, 0755
  central.setUint32(42, 0, true); // its local header's offset

  const centralOffset = 30 + name.byteLength + compressed.byteLength;
  const centralSize = 46 + name.byteLength;
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, 1, true); // entries on this disk
  end.setUint16(10, 1, true); // entries
  end.setUint32(12, centralSize, true);
  end.setUint32(16, centralOffset, true);

  return concatBytes([
    new Uint8Array(local.buffer),
    name,
    compressed,
    new Uint8Array(central.buffer),
    name,
    new Uint8Array(end.buffer),
  ]);
}

function checkEntry(entry: ArchiveEntry, maxSize: number): void {
  if (!/^[\w.-]{1,100}$/.test(entry.name)) {
    throw new Error(`Cannot archive "${entry.name}": the entry must be a plain file name`);
  }
  if (entry.data.byteLength > maxSize) {
    throw new Error(`Cannot archive "${entry.name}": ${entry.data.byteLength} bytes is too large`);
  }
}

/** MS-DOS date and time (2-second steps, 1980 to 2107), in UTC so every machine agrees. */
function dosTime(seconds: number): { time: number; date: number } {
  const d = new Date(
    Math.min(Math.max(seconds * 1000, Date.UTC(1980, 0, 1)), Date.UTC(2107, 11, 31)),
  );
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309, as zip and gzip use it). */
export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.byteLength; i++) crc = CRC_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
