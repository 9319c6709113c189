import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  passThrough,
  type PassThroughCall,
  type PassThroughOutcome,
  ShutdownError,
} from "../../src/upstream/stream/pass-through.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the pass-through reports to its call, as a test reads it. */
class RecordingCall implements PassThroughCall {
  readonly watch = { activity: 0, stop() {}, restart() {} };
  readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  readonly outcomes: PassThroughOutcome[] = [];
  abort(reason: unknown): void {
    this.controller.abort(reason);
  }
  ended(outcome: PassThroughOutcome): void {
    this.outcomes.push(outcome);
  }
}

/**
 * An upstream body as a byte stream (as Deno's fetch gives), fed by the test: `send` queues
 * bytes, `end` closes, `fail` breaks it.
 */
function upstreamBody() {
  let controller!: ReadableByteStreamController;
  const body = new ReadableStream({
    type: "bytes",
    start(c: ReadableByteStreamController) {
      controller = c;
    },
  });
  return {
    body,
    send: (text: string) => controller.enqueue(encoder.encode(text)),
    end: () => controller.close(),
    fail: (error: Error) => controller.error(error),
  };
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text();
}

describe("passThrough", () => {
  it("hands over a body that had arrived whole as bytes, usage tail and all", async () => {
    const upstream = upstreamBody();
    upstream.send("data: 1\n\n");
    upstream.send('data: {"usage":{"total_tokens":3}}\n\n');
    upstream.send("data: [DONE]\n\n");
    upstream.end();
    const call = new RecordingCall();
    const body = await passThrough(upstream.body, call, { keepTailBytes: 64 });
    assert.ok(body instanceof Uint8Array, "a whole body is sent as bytes");
    assert.equal(
      decoder.decode(body),
      'data: 1\n\ndata: {"usage":{"total_tokens":3}}\n\ndata: [DONE]\n\n',
    );
    assert.equal(call.outcomes.length, 1);
    const [outcome] = call.outcomes;
    assert.equal(outcome.kind, "complete");
    assert.match(decoder.decode(outcome.tail!.at(-1)), /\[DONE\]/);
    assert.ok(call.watch.activity >= 1, "the chunks count as activity");
  });

  it("starts a stream with what arrived and sends later bytes as they come", async () => {
    const upstream = upstreamBody();
    upstream.send("data: first\n\n");
    const call = new RecordingCall();
    const body = await passThrough(upstream.body, call, {});
    assert.ok(body instanceof ReadableStream, "an unfinished body streams");
    const reader = body.getReader();
    // The first event reaches the client while the upstream has sent nothing more.
    assert.equal(decoder.decode((await reader.read()).value), "data: first\n\n");
    assert.equal(call.outcomes.length, 0);
    setTimeout(() => {
      upstream.send("data: second\n\n");
      upstream.end();
    }, 20);
    assert.equal(decoder.decode((await reader.read()).value), "data: second\n\n");
    assert.equal((await reader.read()).done, true);
    assert.deepEqual(call.outcomes.map((o) => o.kind), ["complete"]);
  });

  it("answers at once when nothing has arrived yet", async () => {
    const upstream = upstreamBody();
    const call = new RecordingCall();
    const body = await passThrough(upstream.body, call, {});
    assert.ok(body instanceof ReadableStream);
    upstream.send("data: late\n\n");
    upstream.end();
    assert.equal(await readAll(body), "data: late\n\n");
    assert.deepEqual(call.outcomes.map((o) => o.kind), ["complete"]);
  });

  it("ends a stream that broke right after its first bytes with an error event", async () => {
    // Breaking after a read: an errored stream drops what it had queued.
    let pulls = 0;
    const broken = new ReadableStream({
      type: "bytes",
      pull(c: ReadableByteStreamController) {
        if (pulls++ === 0) c.enqueue(encoder.encode("data: partial\n\n"));
        else c.error(new Error("connection reset"));
      },
    });
    const call = new RecordingCall();
    const body = await passThrough(broken, call, {});
    assert.ok(body instanceof ReadableStream, "a broken body is never sent as if complete");
    const text = await readAll(body);
    assert.ok(text.startsWith("data: partial\n\n"), text);
    assert.match(text, /"code":"upstream_stream_error"/);
    assert.doesNotMatch(text, /\[DONE\]/);
    const [outcome] = call.outcomes;
    assert.equal(outcome.kind, "broken");
    assert.match((outcome as { message: string }).message, /connection reset/);
  });

  it("ends a stream cut at shutdown with an error event that says so", async () => {
    const upstream = upstreamBody();
    upstream.send("data: first\n\n");
    const call = new RecordingCall();
    const body = await passThrough(upstream.body, call, {});
    assert.ok(body instanceof ReadableStream);
    const reader = body.getReader();
    assert.equal(decoder.decode((await reader.read()).value), "data: first\n\n");
    const rest = (async () => {
      let text = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return text;
        text += decoder.decode(value);
      }
    })();
    // Aborting the upstream fetch fails its body, as the runtimes do.
    call.abort(new ShutdownError());
    upstream.fail(new DOMException("The operation was aborted", "AbortError"));
    const text = await rest;
    assert.match(text, /^\n\ndata: \{"error":\{"message":"qwen serve shut down before the answer/);
    assert.match(text, /"code":"server_shutdown"\}\}\n\n$/);
    assert.deepEqual(call.outcomes.map((o) => o.kind), ["shutdown"]);
  });

  it("counts a stream the server closed at shutdown as cut, not as a client that left", async () => {
    const upstream = upstreamBody();
    upstream.send("data: first\n\n");
    const call = new RecordingCall();
    const body = await passThrough(upstream.body, call, {});
    assert.ok(body instanceof ReadableStream);
    call.abort(new ShutdownError());
    await body.cancel(new Error("connection closed"));
    assert.deepEqual(call.outcomes.map((o) => o.kind), ["shutdown"]);
    const left = new RecordingCall();
    const other = upstreamBody();
    other.send("data: first\n\n");
    const leftBody = await passThrough(other.body, left, {});
    assert.ok(leftBody instanceof ReadableStream);
    await leftBody.cancel(new Error("client left"));
    assert.deepEqual(left.outcomes.map((o) => o.kind), ["cancelled"]);
  });

  it("streams a large body that had arrived, in order, instead of gathering it all", async () => {
    const upstream = upstreamBody();
    const lines: string[] = [];
    for (let i = 0; i < 12; i++) {
      const line = `data: ${String(i).padStart(2, "0")}${"x".repeat(32 * 1024)}\n\n`;
      lines.push(line);
      upstream.send(line);
    }
    upstream.end();
    const call = new RecordingCall();
    const body = await passThrough(upstream.body, call, {});
    assert.ok(body instanceof ReadableStream, "past the gathering limit the rest streams");
    assert.equal(await readAll(body), lines.join(""));
    assert.deepEqual(call.outcomes.map((o) => o.kind), ["complete"]);
  });
});
