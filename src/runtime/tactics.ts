/**
 * Per-runtime tactics of the request path, each a narrow export that the one module needing it
 * imports by name; docs/performance.md has the measurements that keep them.
 */
const onDeno = "Deno" in globalThis;

/**
 * A header set built once and sent many times, in the form this runtime's fetch copies fastest:
 * Bun copies a Headers object natively, Deno reads a record faster than it iterates Headers.
 */
export const fetchHeaderForm: (headers: Record<string, string>) => HeadersInit = onDeno
  ? (headers) => headers
  : (headers) => new Headers(headers);

/**
 * Whether a request body is scanned faster as the string it decodes to than as bytes: on Deno,
 * V8 searches a string with vector instructions where its byte search goes one by one.
 */
export const scanAsText: boolean = onDeno;

const encoder = new TextEncoder();
/** What the Deno encoder carves its chunks from; a chunk keeps its slab alive, so slabs are small. */
const SLAB_BYTES = 16 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

/** Encodes into views of a shared slab: on Deno a new byte array costs more than the encoding. */
function encodeIntoSlab(text: string): Uint8Array<ArrayBuffer> {
  // A UTF-16 code unit takes at most 3 bytes of UTF-8.
  const most = text.length * 3;
  if (most > SLAB_BYTES / 4) return encoder.encode(text);
  if (SLAB_BYTES - slabUsed < most) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const { written } = encoder.encodeInto(text, slab.subarray(slabUsed));
  const bytes = slab.subarray(slabUsed, slabUsed + written);
  slabUsed += written;
  return bytes;
}

/**
 * A translated stream's text as the bytes of one chunk, written once and never changed: views of
 * a shared slab on Deno, a fresh array on Bun, where allocating is cheaper than the view.
 */
export const encodeChunk: (text: string) => Uint8Array<ArrayBuffer> = onDeno
  ? encodeIntoSlab
  : (text) => encoder.encode(text);
