import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ChatEvent,
  ChatStreamReader,
  completionEvents,
} from "../../src/upstream/stream/chat-events.ts";
import {
  type AnthropicEvent,
  foldMessage,
  MessageTranslator,
  sseEvent,
} from "../../src/server/anthropic/response.ts";
import { TranslatingTransform } from "../../src/server/translated-stream.ts";
import { KeepAlive } from "../../src/upstream/stream/keep-alive.ts";
import {
  passThrough,
  type PassThroughCall,
  type PassThroughOutcome,
} from "../../src/upstream/stream/pass-through.ts";
import { StopSequences } from "../../src/server/anthropic/stop-sequences.ts";
import { assemble, assertGrammar, parseSse } from "../helpers/anthropic-grammar.ts";

const encoder = new TextEncoder();

/** A chat chunk's SSE line. */
function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  return `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
}
function usage(prompt: number, completion: number, cached = 0): string {
  return `data: ${
    JSON.stringify({
      choices: [],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        prompt_tokens_details: { cached_tokens: cached },
      },
    })
  }\n\n`;
}
const DONE = "data: [DONE]\n\n";
function call(index: number, fields: { id?: string; name?: string; args?: string }) {
  return chunk({
    tool_calls: [{
      index,
      ...(fields.id ? { id: fields.id, type: "function" } : {}),
      function: {
        ...(fields.name ? { name: fields.name } : {}),
        ...(fields.args !== undefined ? { arguments: fields.args } : {}),
      },
    }],
  });
}

/** The Anthropic SSE text the chunks translate to, each byte split as given. */
function translate(
  parts: (string | Uint8Array)[],
  stopSequences: string[] = [],
): string {
  const reader = new ChatStreamReader();
  const translator = new MessageTranslator({ id: "msg_test", model: "claude-x", stopSequences });
  const out: AnthropicEvent[] = [];
  translator.start(out);
  const events: ChatEvent[] = [];
  for (const part of parts) {
    reader.push(typeof part === "string" ? encoder.encode(part) : part, events);
    for (const event of events) translator.accept(event, out);
    events.length = 0;
  }
  reader.end(events);
  for (const event of events) translator.accept(event, out);
  translator.finish(out);
  return out.map(sseEvent).join("");
}

function checked(text: string) {
  const events = parseSse(text);
  assertGrammar(events);
  return { events, message: assemble(events) };
}

describe("the Anthropic stream translation", () => {
  it("puts reasoning in a signed thinking block before the text, and maps usage", () => {
    const { message, events } = checked(translate([
      chunk({ role: "assistant", reasoning_content: "Let me " }),
      chunk({ reasoning_content: "think." }),
      chunk({ content: "Hello" }),
      chunk({ content: " there" }, "stop"),
      usage(120, 7, 100),
      DONE,
    ]));
    assert.deepEqual(message.content, [
      { type: "thinking", thinking: "Let me think.", signature: "qwen-reasoning-v1" },
      { type: "text", text: "Hello there" },
    ]);
    assert.equal(message.stop_reason, "end_turn");
    assert.equal(message.model, "claude-x");
    assert.deepEqual(message.usage, {
      input_tokens: 20,
      output_tokens: 7,
      cache_read_input_tokens: 100,
      cache_creation_input_tokens: 0,
    });
    assert.equal(events.filter((e) => e.event === "message_start").length, 1);
  });

  it("starts with message_start when the first chunk is a tool call", () => {
    const { events, message } = checked(translate([
      call(0, { id: "call_1", name: "Bash", args: "" }),
      call(0, { args: '{"command":' }),
      call(0, { args: '"ls"}' }),
      chunk({}, "tool_calls"),
      DONE,
    ]));
    assert.equal(events[0].event, "message_start");
    assert.deepEqual(message.content, [
      { type: "tool_use", id: "call_1", name: "Bash", input: { command: "ls" } },
    ]);
    assert.equal(message.stop_reason, "tool_use");
    const delta = events.find((e) => e.event === "content_block_delta")!;
    assert.deepEqual(delta.data.delta, {
      type: "input_json_delta",
      partial_json: '{"command":"ls"}',
    });
  });

  it("sends text that follows a tool call as its own block after it", () => {
    const { message } = checked(translate([
      chunk({ content: "First " }),
      call(0, { id: "call_a", name: "Read", args: '{"path":"a"}' }),
      chunk({ content: "then text" }),
      chunk({}, "tool_calls"),
      DONE,
    ]));
    assert.deepEqual(
      (message.content as { type: string }[]).map((b) => b.type),
      ["text", "tool_use", "text"],
    );
    assert.equal(message.stop_reason, "tool_use");
  });

  it("sends two parallel calls, even interleaved, as consecutive blocks in index order", () => {
    const { message } = checked(translate([
      call(0, { id: "call_a", name: "Read", args: '{"pa' }),
      call(1, { id: "call_b", name: "Grep", args: '{"pattern"' }),
      call(0, { args: 'th":"x"}' }),
      call(1, { args: ':"y"}' }),
      chunk({}, "tool_calls"),
      usage(10, 5),
      DONE,
    ]));
    assert.deepEqual(message.content, [
      { type: "tool_use", id: "call_a", name: "Read", input: { path: "x" } },
      { type: "tool_use", id: "call_b", name: "Grep", input: { pattern: "y" } },
    ]);
  });

  it("joins arguments and text split in the middle of a UTF-8 sequence", () => {
    const bytes = encoder.encode(
      call(0, { id: "call_u", name: "Write", args: '{"text":"日本語 ✓"}' }) +
        chunk({}, "tool_calls") +
        DONE,
    );
    const at = new TextDecoder().decode(bytes).indexOf("日") + 1; // inside 日's bytes
    const byteAt = encoder.encode(new TextDecoder().decode(bytes).slice(0, at)).length - 2;
    const { message } = checked(translate([bytes.subarray(0, byteAt), bytes.subarray(byteAt)]));
    assert.deepEqual((message.content as { input: unknown }[])[0].input, { text: "日本語 ✓" });
  });

  it("survives a stream cut into one-byte pieces", () => {
    const text = chunk({ reasoning_content: "思考" }) + chunk({ content: "答え" }, "stop") + DONE;
    const bytes = encoder.encode(text);
    const pieces = Array.from(bytes, (b) => new Uint8Array([b]));
    const { message } = checked(translate(pieces));
    assert.deepEqual(message.content, [
      { type: "thinking", thinking: "思考", signature: "qwen-reasoning-v1" },
      { type: "text", text: "答え" },
    ]);
  });

  it("maps each finish reason", () => {
    const cases: [string, string][] = [
      ["stop", "end_turn"],
      ["length", "max_tokens"],
      ["content_filter", "refusal"],
      ["tool_calls", "end_turn"], // no tool block: an agent would wait for a call that never came
    ];
    for (const [finish, stop] of cases) {
      const { message } = checked(translate([chunk({ content: "x" }, finish), DONE]));
      assert.equal(message.stop_reason, stop, finish);
    }
    const { message } = checked(translate([
      call(0, { id: "c", name: "Bash", args: "{}" }),
      chunk({}, "stop"),
      DONE,
    ]));
    assert.equal(message.stop_reason, "tool_use", "a call with finish stop still stops for it");
  });

  it("wraps arguments that are not a JSON object so the tool fails readably", () => {
    const { message } = checked(translate([
      call(0, { id: "c1", name: "Bash", args: '{"command": "ls"' }),
      call(1, { id: "c2", name: "Bash", args: "" }),
      chunk({}, "tool_calls"),
      DONE,
    ]));
    const blocks = message.content as { input: unknown }[];
    assert.deepEqual(blocks[0].input, { invalid_json_arguments: '{"command": "ls"' });
    assert.deepEqual(blocks[1].input, {});
  });

  it("ends at a stop sequence split over chunks, and holds back no more than it must", () => {
    const parts = [chunk({ content: "one two EN" }), chunk({ content: "D three" }), DONE];
    const text = translate(parts, ["END", "NEVERMATCHED"]);
    const { message } = checked(text);
    assert.deepEqual(message.content, [{ type: "text", text: "one two " }]);
    assert.equal(message.stop_reason, "stop_sequence");
    assert.equal(message.stop_sequence, "END");

    const held = new StopSequences(["abcd"]);
    assert.deepEqual(held.push("xxab"), { text: "x" });
    assert.deepEqual(held.push("c"), { text: "x" });
    assert.equal(held.flush(), "abc");
  });

  it("sends held-back text when the answer ends without the sequence", () => {
    const { message } = checked(translate([chunk({ content: "almost ST" }, "stop"), DONE], [
      "STOP",
    ]));
    assert.deepEqual(message.content, [{ type: "text", text: "almost ST" }]);
    assert.equal(message.stop_reason, "end_turn");
  });

  it("ends a broken stream with an error event and no message_stop", () => {
    const broken = `\n\ndata: ${
      JSON.stringify({
        error: { message: "The upstream connection broke", type: "api_error", code: "x" },
      })
    }\n\n`;
    const events = parseSse(translate([chunk({ content: "partial" }), broken]));
    assertGrammar(events);
    const last = events.at(-1)!;
    assert.equal(last.event, "error");
    assert.deepEqual(last.data.error, {
      type: "api_error",
      message: "The upstream connection broke",
    });
    assert.ok(!events.some((e) => e.event === "message_stop"));

    const busy = `data: ${JSON.stringify({ error: { message: "Throttling: too busy" } })}\n\n`;
    const overloaded = parseSse(translate([busy])).at(-1)!;
    assert.equal((overloaded.data.error as { type: string }).type, "overloaded_error");
  });

  it("reads OpenRouter's reasoning field, chunks without an index, and comments", () => {
    const { message } = checked(translate([
      ": OPENROUTER PROCESSING\n\n",
      chunk({ reasoning: "hmm" }),
      chunk({ tool_calls: [{ id: "t1", function: { name: "Bash", arguments: '{"a":' } }] }),
      chunk({ tool_calls: [{ function: { arguments: "1}" } }] }),
      "data: " + JSON.stringify({ choices: [{ delta: {}, finish_reason: "tool_calls" }] }) +
      "\r\n\r\n",
    ]));
    assert.deepEqual(message.content, [
      { type: "thinking", thinking: "hmm", signature: "qwen-reasoning-v1" },
      { type: "tool_use", id: "t1", name: "Bash", input: { a: 1 } },
    ]);
  });
});

describe("the Anthropic message of a whole answer", () => {
  function whole(completion: unknown, stops: string[] = []) {
    const translator = new MessageTranslator({
      id: "msg_w",
      model: "claude-y",
      stopSequences: stops,
    });
    const out: AnthropicEvent[] = [];
    translator.start(out);
    for (const event of completionEvents(completion)) translator.accept(event, out);
    translator.finish(out);
    assertGrammar(out.map((e) => ({ event: e.type, data: e })));
    return foldMessage(out);
  }

  it("folds reasoning, text and tool calls into one message", () => {
    const folded = whole({
      id: "x",
      choices: [{
        message: {
          role: "assistant",
          reasoning_content: "why",
          content: "I'll look.",
          tool_calls: [{
            id: "call_9",
            type: "function",
            function: { name: "Read", arguments: '{"file":"a.ts"}' },
          }],
        },
        finish_reason: "tool_calls",
      }],
      usage: { prompt_tokens: 50, completion_tokens: 9 },
    });
    assert.ok("message" in folded);
    assert.deepEqual(folded.message, {
      id: "msg_w",
      type: "message",
      role: "assistant",
      model: "claude-y",
      content: [
        { type: "thinking", thinking: "why", signature: "qwen-reasoning-v1" },
        { type: "text", text: "I'll look." },
        { type: "tool_use", id: "call_9", name: "Read", input: { file: "a.ts" } },
      ],
      stop_reason: "tool_use",
      stop_sequence: null,
      usage: {
        input_tokens: 50,
        output_tokens: 9,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
      },
    });
  });

  it("cuts the text at a stop sequence", () => {
    const folded = whole({
      choices: [{ message: { content: "alpha ### beta" }, finish_reason: "stop" }],
    }, ["###"]);
    assert.ok("message" in folded);
    assert.deepEqual(folded.message.content, [{ type: "text", text: "alpha " }]);
    assert.equal(folded.message.stop_sequence, "###");
  });

  it("reports an error body as an error", () => {
    const folded = whole({ error: { message: "bad things" } });
    assert.deepEqual(folded, { error: { type: "api_error", message: "bad things" } });
  });
});

describe("the translated stream (the pass-through with a translation)", () => {
  const PING = encoder.encode(sseEvent({ type: "ping" }));

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

  /** An upstream body that gives its parts one per read, waiting for `hold` before the second. */
  function source(parts: string[], hold?: Promise<void>) {
    let cancelled: unknown = "not cancelled";
    let i = 0;
    const stream = new ReadableStream<Uint8Array<ArrayBuffer>>({
      async pull(controller) {
        if (i === 1 && hold) await hold;
        if (i < parts.length) controller.enqueue(encoder.encode(parts[i++]));
        else controller.close();
      },
      cancel(reason) {
        cancelled = reason;
      },
    });
    return { stream, cancelled: () => cancelled };
  }

  function translated(
    upstream: ReadableStream<Uint8Array<ArrayBuffer>>,
    options: { stopSequences?: string[]; pingMs?: number } = {},
  ) {
    const call = new RecordingCall();
    const translator = new MessageTranslator({
      id: "m",
      model: "c",
      stopSequences: options.stopSequences ?? [],
    });
    const transform = new TranslatingTransform(translator, sseEvent, {
      timer: new KeepAlive(options.pingMs ?? 1000),
      bytes: PING,
    });
    return { call, body: passThrough(upstream, call, { transform }) };
  }

  async function text(body: Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array>): Promise<string> {
    return await new Response(body).text();
  }

  it("pings while the upstream is silent, and drops the upstream at a stop sequence", async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => release = resolve);
    const upstream = source([
      chunk({ content: "a" }),
      chunk({ content: "b STOP c" }),
      chunk({ content: "never read" }),
      DONE,
    ], hold);
    const { call, body } = translated(upstream.stream, { stopSequences: ["STOP"], pingMs: 20 });
    const stream = await body;
    assert.ok(stream instanceof ReadableStream, "the upstream was still sending: a stream");
    setTimeout(release, 120);
    const events = parseSse(await text(stream));
    assertGrammar(events);
    assert.ok(events.some((e) => e.event === "ping"), "no ping during the silence");
    assert.deepEqual(assemble(events).content, [{ type: "text", text: "ab " }]);
    assert.notEqual(upstream.cancelled(), "not cancelled");
    assert.equal(call.signal.aborted, true, "the upstream call goes on");
    assert.deepEqual(call.outcomes.map((o) => o.kind), ["complete"]);
  });

  it("answers with bytes when the upstream's body had arrived whole", async () => {
    const upstream = source([chunk({ content: "hi" }, "stop"), usage(3, 1), DONE]);
    const { call, body } = translated(upstream.stream);
    const bytes = await body;
    assert.ok(bytes instanceof Uint8Array);
    const events = parseSse(await text(bytes));
    assertGrammar(events);
    assert.equal((assemble(events).usage as { output_tokens: number }).output_tokens, 1);
    assert.deepEqual(call.outcomes.map((o) => o.kind), ["complete"]);
  });

  it("closes at message_stop and reads the rest of the upstream out", async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => release = resolve);
    const upstream = source(
      [chunk({ content: "hi" }), chunk({}, "stop") + DONE, ": trailing\n\n"],
      hold,
    );
    const { call, body } = translated(upstream.stream);
    const stream = await body;
    release();
    assertGrammar(parseSse(await text(stream)));
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(upstream.cancelled(), "not cancelled");
    assert.deepEqual(call.outcomes.map((o) => o.kind), ["complete"]);
  });

  it("cancels the upstream when the client leaves", async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => release = resolve);
    const upstream = source([chunk({ content: "hi" }), chunk({ content: "more" })], hold);
    const { call, body } = translated(upstream.stream);
    const stream = await body;
    assert.ok(stream instanceof ReadableStream);
    const reader = stream.getReader();
    await reader.read();
    await reader.cancel("client left");
    release();
    assert.equal(upstream.cancelled(), "client left");
    assert.deepEqual(call.outcomes.map((o) => o.kind), ["cancelled"]);
  });

  it("ends a stream that breaks with an error event, through the translation", async () => {
    let pulls = 0;
    const broken = new ReadableStream<Uint8Array<ArrayBuffer>>({
      pull(c) {
        if (pulls++ === 0) c.enqueue(encoder.encode(chunk({ content: "partial" })));
        else c.error(new Error("connection reset"));
      },
    });
    const { call, body } = translated(broken);
    const events = parseSse(await text(await body));
    assertGrammar(events);
    assert.equal(events.at(-1)!.event, "error");
    assert.match(JSON.stringify(events.at(-1)!.data), /connection reset/);
    assert.deepEqual(call.outcomes.map((o) => o.kind), ["broken"]);
  });
});
