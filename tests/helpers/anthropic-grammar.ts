/**
 * Anthropic's streaming event grammar, checked: what a translated stream must obey whatever
 * order the upstream's deltas came in (docs/anthropic.md#streaming).
 */
import assert from "node:assert/strict";

import type { SseEvent } from "./sse-events.ts";

export { parseSse, type SseEvent } from "./sse-events.ts";

const DELTAS_OF: Record<string, string[]> = {
  text: ["text_delta"],
  thinking: ["thinking_delta", "signature_delta"],
  tool_use: ["input_json_delta"],
};

/**
 * Fails unless the events follow the grammar: `message_start` first; blocks started with index
 * 0, 1, 2… one at a time, each delta of its block's kind, each block stopped; one
 * `message_delta` once all blocks are stopped, then `message_stop` last — or an `error` that
 * ends the stream with no `message_stop`. `ping` may come anywhere after the start.
 */
export function assertGrammar(events: readonly SseEvent[]): void {
  assert.ok(events.length > 0, "the stream has no events");
  for (const { event, data } of events) {
    assert.equal(data.type, event, `the event name "${event}" differs from its data's type`);
  }
  assert.equal(events[0].event, "message_start", "the first event is not message_start");
  let next = 0;
  let open: { index: number; kind: string } | undefined;
  let delta = false;
  for (let i = 1; i < events.length; i++) {
    const { event, data } = events[i];
    const where = `event ${i} (${event})`;
    switch (event) {
      case "ping":
        break;
      case "content_block_start": {
        assert.equal(delta, false, `${where}: a block after message_delta`);
        assert.equal(open, undefined, `${where}: block ${open?.index} is still open`);
        assert.equal(data.index, next, `${where}: expected index ${next}`);
        const block = data.content_block as Record<string, unknown>;
        assert.ok(block.type as string in DELTAS_OF, `${where}: unknown block "${block.type}"`);
        if (block.type === "tool_use") {
          assert.deepEqual(block.input, {}, `${where}: a tool_use starts with input {}`);
          assert.equal(typeof block.id, "string");
          assert.equal(typeof block.name, "string");
        }
        open = { index: next++, kind: block.type as string };
        break;
      }
      case "content_block_delta": {
        assert.ok(open !== undefined, `${where}: no block is open`);
        assert.equal(data.index, open.index, `${where}: not the open block's index`);
        const type = (data.delta as Record<string, unknown>).type as string;
        assert.ok(
          DELTAS_OF[open.kind].includes(type),
          `${where}: a ${type} in a ${open.kind} block`,
        );
        break;
      }
      case "content_block_stop":
        assert.ok(open !== undefined, `${where}: no block is open`);
        assert.equal(data.index, open.index, `${where}: not the open block's index`);
        open = undefined;
        break;
      case "message_delta":
        assert.equal(open, undefined, `${where}: block ${open?.index} is still open`);
        assert.equal(delta, false, `${where}: a second message_delta`);
        delta = true;
        break;
      case "message_stop":
        assert.equal(delta, true, `${where}: message_stop without message_delta`);
        assert.equal(i, events.length - 1, `${where}: events after message_stop`);
        return;
      case "error":
        assert.equal(i, events.length - 1, `${where}: events after the error`);
        return;
      default:
        assert.fail(`${where}: not an event of the grammar`);
    }
  }
  assert.fail("the stream ended without message_stop or error");
}

/** The message a valid event sequence describes, as a client library would assemble it. */
export function assemble(events: readonly SseEvent[]): Record<string, unknown> {
  let message: Record<string, unknown> = {};
  const content: Record<string, unknown>[] = [];
  const json: string[] = [];
  for (const { event, data } of events) {
    if (event === "message_start") message = { ...(data.message as object), content };
    if (event === "content_block_start") {
      content.push({ ...(data.content_block as object) });
      json.push("");
    }
    if (event === "content_block_delta") {
      const i = data.index as number;
      const d = data.delta as Record<string, string>;
      if (d.type === "text_delta") content[i].text += d.text;
      if (d.type === "thinking_delta") content[i].thinking += d.thinking;
      if (d.type === "signature_delta") content[i].signature = d.signature;
      if (d.type === "input_json_delta") json[i] += d.partial_json;
    }
    if (event === "content_block_stop" && content[data.index as number].type === "tool_use") {
      content[data.index as number].input = JSON.parse(json[data.index as number]);
    }
    if (event === "message_delta") {
      Object.assign(message, data.delta);
      message.usage = { ...(message.usage as object), ...(data.usage as object) };
    }
  }
  return message;
}
