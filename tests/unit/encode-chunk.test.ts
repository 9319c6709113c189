import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { encodeChunk } from "../../src/runtime/tactics.ts";

const decoder = new TextDecoder();

describe("encodeChunk", () => {
  it("gives every chunk bytes of its own that later chunks never change", () => {
    const texts: string[] = [];
    const chunks: Uint8Array[] = [];
    // Past several 16 KiB slabs, with text of 1-, 2-, 3- and 4-byte characters and sizes that
    // straddle the slab's end, and a few larger than a slab takes.
    for (let i = 0; i < 3000; i++) {
      const text = `event ${i}: ${"aé中🙂".repeat(i % 37)}${
        i % 500 === 0 ? "x".repeat(20_000) : ""
      }\n`;
      texts.push(text);
      chunks.push(encodeChunk(text));
    }
    for (let i = 0; i < texts.length; i++) assert.equal(decoder.decode(chunks[i]), texts[i]);
  });

  it("gives an empty chunk for empty text", () => {
    assert.equal(encodeChunk("").byteLength, 0);
  });
});
