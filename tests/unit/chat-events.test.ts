import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ChatEvent, ChatStreamReader } from "../../src/upstream/stream/chat-events.ts";

const encoder = new TextEncoder();
const MiB = 1024 * 1024;

describe("ChatStreamReader: an event without end", () => {
  it("stops with an error once one event holds more than 16 MiB, and reads nothing after", () => {
    const reader = new ChatStreamReader();
    const events: ChatEvent[] = [];
    const piece = encoder.encode("x".repeat(MiB));
    reader.push(encoder.encode('data: {"choices":[{"index":0,"delta":{"content":"'), events);
    let pushed = 0;
    while (events.length === 0 && pushed < 40) {
      reader.push(piece, events);
      pushed++;
    }
    // The 16th MiB, with the line's start before it, passes the limit.
    assert.equal(pushed, 16);
    assert.deepEqual(events.map((e) => e.type === "error" && e.code), ["upstream_event_too_large"]);
    assert.equal(reader.done, true);
    reader.push(
      encoder.encode('"}}]}\n\ndata: {"choices":[{"delta":{"content":"late"}}]}\n\n'),
      events,
    );
    assert.equal(events.length, 1);
  });

  it("counts data lines of one event together", () => {
    const reader = new ChatStreamReader();
    const events: ChatEvent[] = [];
    const line = encoder.encode(`data: ${"y".repeat(MiB)}\n`);
    for (let i = 0; i < 17 && events.length === 0; i++) reader.push(line, events);
    assert.equal(events.length, 1);
    assert.equal((events[0] as { code: string }).code, "upstream_event_too_large");
  });

  it("takes a large event that does end", () => {
    const reader = new ChatStreamReader();
    const events: ChatEvent[] = [];
    const text = "z".repeat(4 * MiB);
    const body = `data: ${
      JSON.stringify({ choices: [{ index: 0, delta: { content: text } }] })
    }\n\n`;
    reader.push(encoder.encode(body), events);
    assert.deepEqual(events, [{ type: "text", text }]);
  });
});
