/**
 * An answer read whole (a JSON completion, or a stream read to its end for a client that asked
 * for a whole answer) is bounded by `--max-response` (issue 17, item 6): past it the client gets
 * a 502 saying so, and the rest is not read. A 300 MB answer took 656 MB of RSS, a 200 MB gzip
 * bomb 468 MB.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { readAtMost } from "../../src/lib/bytes.ts";
import type { Server } from "../../src/runtime/mod.ts";
import { startServer } from "../helpers/with-server.ts";
import { HELLO, setup } from "./harness.ts";

const KiB = 1024;
const CAP = 64 * KiB;

/** A JSON body of `total` bytes in 16 KiB pieces, counting what was pulled and whether it was cancelled. */
function countedBody(total: number) {
  const piece = new TextEncoder().encode(" ".repeat(16 * KiB));
  const seen = { pulled: 0, cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (seen.pulled >= total) return controller.close();
      seen.pulled += piece.length;
      controller.enqueue(piece.slice());
    },
    cancel() {
      seen.cancelled = true;
    },
  }, { highWaterMark: 0 });
  return { stream, seen };
}

/** The app whose chat completions are answered by `answer` (other calls go to the fake). */
function appAnswering(answer: () => Response | Promise<Response>) {
  return setup({
    app: {
      maxResponseBytes: CAP,
      fetch: (input, init) =>
        String(input).endsWith("/chat/completions")
          ? Promise.resolve(answer())
          : fetch(input, init),
    },
  });
}

async function assertTooLarge(response: Response) {
  assert.equal(response.status, 502);
  const json = await response.json();
  assert.equal(json.error.code, "upstream_response_too_large");
  assert.match(json.error.message, new RegExp(`larger than ${CAP} bytes: .*"--max-response"`));
}

describe("--max-response: answers read whole", () => {
  it("refuses a JSON answer declared larger, without reading it", async () => {
    const { stream, seen } = countedBody(1024 * KiB);
    const h = await appAnswering(() =>
      new Response(stream, {
        headers: { "content-type": "application/json", "content-length": String(1024 * KiB) },
      })
    );
    try {
      await assertTooLarge(await h.call("/v1/chat/completions", { json: HELLO }));
      assert.ok(seen.pulled <= 16 * KiB, `${seen.pulled} bytes read`);
      assert.equal(h.entries.at(-1)?.retries, 0);
      assert.match(h.lines.at(-1)!, /502 .*--max-response/);
    } finally {
      await h.close();
    }
  });

  it("stops reading an answer without a length at the limit", async () => {
    const { stream, seen } = countedBody(1024 * KiB);
    const h = await appAnswering(() =>
      new Response(stream, { headers: { "content-type": "application/json" } })
    );
    try {
      await assertTooLarge(await h.call("/v1/chat/completions", { json: HELLO }));
      assert.ok(seen.pulled <= CAP + 32 * KiB, `${seen.pulled} bytes read`);
      assert.equal(seen.cancelled, true);
    } finally {
      await h.close();
    }
  });

  it("counts the decoded size of a compressed answer (a gzip bomb)", async () => {
    const decoded = JSON.stringify({ padding: " ".repeat(4096 * KiB) });
    const bomb = gzipSync(decoded);
    assert.ok(bomb.length < CAP);
    let server: Server | undefined;
    server = await startServer(() =>
      new Response(bomb, {
        headers: {
          "content-type": "application/json",
          "content-encoding": "gzip",
          "content-length": String(bomb.length),
        },
      })
    );
    const h = await appAnswering(() => fetch(`${server!.url}/bomb`));
    try {
      await assertTooLarge(await h.call("/v1/chat/completions", { json: HELLO }));
    } finally {
      await h.close();
      await server.close(true);
      server = undefined;
    }
  });

  it("relays an answer within the limit as before", async () => {
    const h = await setup({ app: { maxResponseBytes: CAP } });
    try {
      const response = await h.call("/v1/chat/completions", { json: HELLO });
      assert.equal(response.status, 200);
      assert.equal((await response.json()).choices[0].message.content, "Hello!");
    } finally {
      await h.close();
    }
  });
});

describe("--max-response: translated whole answers read from a stream", () => {
  let h: Awaited<ReturnType<typeof setup>>;
  before(async () => (h = await setup({ app: { maxResponseBytes: CAP } })));
  after(() => h.close());

  // With thinking on, a whole answer is asked for as a stream and read to its end.
  const big = () => Array.from({ length: 16 }, () => "x".repeat(8 * KiB));

  it("answers /v1/messages 502 past the limit", async () => {
    h.upstream.next({ kind: "ok", chunks: big() });
    const response = await h.call("/v1/messages", {
      json: {
        model: "claude-x",
        max_tokens: 5,
        thinking: { type: "enabled", budget_tokens: 100 },
        messages: HELLO.messages,
      },
    });
    assert.equal(response.status, 502);
    const json = await response.json();
    assert.equal(json.type, "error");
    assert.match(json.error.message, /larger than 65536 bytes: .*"--max-response"/);
  });

  it("answers /v1/responses 502 past the limit", async () => {
    h.upstream.next({ kind: "ok", chunks: big() });
    const response = await h.call("/v1/responses", {
      json: { model: "coder-model", input: "hi", reasoning: { effort: "high" } },
    });
    assert.equal(response.status, 502);
    const json = await response.json();
    assert.equal(json.status, "failed");
    assert.match(json.error.message, /larger than 65536 bytes: .*"--max-response"/);
  });
});

describe("--max-response: the upstream's model list", () => {
  it("serves the built-in list when the upstream's is longer than the limit", async () => {
    const h = await setup({
      app: { maxResponseBytes: CAP },
      upstream: { modelIds: Array.from({ length: 4000 }, (_, i) => `model-${i}`) },
    });
    try {
      const response = await h.call("/v1/models");
      assert.equal(response.status, 200);
      const ids = (await response.json()).data.map((m: { id: string }) => m.id);
      assert.deepEqual(ids, [
        "coder-model",
        "vision-model",
        "qwen3-coder-plus",
        "qwen3-coder-flash",
      ]);
    } finally {
      await h.close();
    }
  });
});

describe("readAtMost", () => {
  it("keeps only the bytes of a chunk that is a view into a larger buffer", async () => {
    // Deno's fetch hands out 4 KiB views of 64 KiB buffers: kept as they are, 64 MiB read that
    // way held about 800 MB.
    const backing = new Uint8Array(64 * KiB).fill(0x20);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(backing.subarray(0, 4 * KiB));
        controller.close();
      },
    });
    const { bytes, over } = await readAtMost(body, CAP);
    assert.equal(over, false);
    assert.equal(bytes.byteLength, 4 * KiB);
    assert.equal(bytes.buffer.byteLength, 4 * KiB);
  });
});
