import { describe, it } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { accumulateResponse } from "openai/lib/responses/ResponseAccumulator";
import type { ResponseStreamEvent } from "openai/resources/responses/responses";
import {
  type ChatEvent,
  ChatStreamReader,
  type ChatUsage,
  completionEvents,
} from "../../src/upstream/stream/chat-events.ts";
import {
  type ResponsesEvent,
  ResponseTranslator,
  sseEvent,
} from "../../src/server/openai-responses/response.ts";
import type { ToolOrigin } from "../../src/server/openai-responses/tools.ts";
import { assembleOutput, assertGrammar, parseSse } from "../helpers/responses-grammar.ts";

type Fields = Record<string, unknown>;

const NOW_MS = 1_780_000_123_456;

function translator(tools: Record<string, ToolOrigin> = {}, echo: Fields = {}) {
  return new ResponseTranslator({
    id: "resp_test",
    model: "gpt-5-codex",
    createdAt: 1_780_000_000,
    tools: new Map(Object.entries(tools)),
    echo,
    now: () => NOW_MS,
  });
}

/**
 * The chat events through a translator, then every check a stream must pass: the grammar, the
 * output folded from the deltas alone, and the `openai` SDK's own stream reader, each equal to
 * the translator's `response()`.
 */
async function run(events: ChatEvent[], tools: Record<string, ToolOrigin> = {}, echo: Fields = {}) {
  const t = translator(tools, echo);
  // One chat event per batch, as if each came in its own chunk (a batch's deltas go out as one).
  const out: ResponsesEvent[] = [];
  const batch: ResponsesEvent[] = [];
  const flush = () => {
    out.push(...batch);
    batch.length = 0;
  };
  t.start(batch);
  flush();
  for (const event of events) {
    t.accept(event, batch);
    flush();
  }
  t.finish(batch);
  flush();
  const text = out.map(sseEvent).join("");
  const sse = parseSse(text);
  assertGrammar(sse);
  const response = t.response();
  assert.equal(t.ended, true);
  assert.deepEqual(sse.at(-1)!.data.response, response, "the terminal event's response");
  // A failed answer's open item never got its done event: the deltas alone do not finish it.
  const output = response.output as Fields[];
  const finished = response.status === "failed"
    ? output.filter((item) => item.status !== "incomplete")
    : output;
  assert.deepEqual(assembleOutput(sse), finished, "the output the deltas build");
  await assertSdkAgrees(sse, text, response);
  return { response, events: sse, translator: t };
}

/**
 * The SDK folds the events up to (not including) the terminal one into the same output, and its
 * `responses.stream()` reads the SSE body (from an injected fetch, nothing on the network) into
 * the same final response.
 */
async function assertSdkAgrees(sse: { data: Fields }[], text: string, response: Fields) {
  let snapshot: ReturnType<typeof accumulateResponse> | undefined;
  for (const { data } of sse.slice(0, -1)) {
    snapshot = accumulateResponse(data as unknown as ResponseStreamEvent, snapshot);
  }
  if (response.status !== "failed") {
    assert.deepEqual(snapshot!.output, response.output, "the SDK's snapshot before the end");
  }
  const client = new OpenAI({
    apiKey: "test-key",
    baseURL: "http://127.0.0.1:9/v1",
    maxRetries: 0,
    fetch: () =>
      Promise.resolve(
        new Response(text, { headers: { "content-type": "text/event-stream" } }),
      ),
  });
  const stream = client.responses.stream({ model: "gpt-5-codex", input: "hi" });
  const types: string[] = [];
  for await (const event of stream) types.push(event.type);
  assert.deepEqual(types, sse.map((e) => e.data.type));
  const final = await stream.finalResponse() as unknown as Fields;
  // What the SDK adds of its own: the text of all messages, and structured-output parsing.
  const { output_text: outputText, output_parsed: _parsed, ...rest } = final;
  for (const item of rest.output as Fields[]) {
    if (item.type === "function_call") delete item.parsed_arguments;
    for (const part of (item.content ?? []) as Fields[]) delete part.parsed;
  }
  assert.deepEqual(rest, response, "the SDK's final response");
  const texts = (response.output as Fields[])
    .filter((item) => item.type === "message")
    .map((item) => ((item.content as Fields[])[0].text as string));
  assert.equal(outputText, texts.join(""));
}

const usage = (
  promptTokens: number,
  completionTokens: number,
  cachedTokens = 0,
  cacheWriteTokens = 0,
  reasoningTokens = 0,
): ChatEvent => ({
  type: "usage",
  usage: {
    promptTokens,
    completionTokens,
    cachedTokens,
    cacheWriteTokens,
    reasoningTokens,
  } satisfies ChatUsage,
});
const text = (t: string): ChatEvent => ({ type: "text", text: t });
const reasoning = (t: string): ChatEvent => ({ type: "reasoning", text: t });
const finish = (reason: string): ChatEvent => ({ type: "finish", reason });
const call = (id: string, name: string, args: string): ChatEvent => ({
  type: "tool_call",
  id,
  name,
  arguments: args,
});

/** The output with the random item ids checked and left out, for comparing by value. */
function withoutIds(output: unknown): Fields[] {
  return (output as Fields[]).map(({ id, ...item }) => {
    assert.match(id as string, /^(msg|rs|fc|ctc)_[0-9a-f]{32}$/);
    return item;
  });
}

describe("the Responses translation of a chat answer", () => {
  it("streams text as one message and ends completed, with the request's fields echoed", async () => {
    const { response, events } = await run(
      [text("Hel"), text("lo"), usage(12, 3), finish("stop")],
      {},
      { instructions: "Be brief.", temperature: 0.2, store: false, model: "not echoed" },
    );
    assert.deepEqual(events.map((e) => e.event), [
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.output_text.delta",
      "response.output_text.delta",
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const { output, ...rest } = response;
    assert.deepEqual(withoutIds(output), [{
      type: "message",
      status: "completed",
      role: "assistant",
      content: [{ type: "output_text", text: "Hello", annotations: [], logprobs: [] }],
    }]);
    assert.deepEqual(rest, {
      id: "resp_test",
      object: "response",
      created_at: 1_780_000_000,
      status: "completed",
      completed_at: Math.floor(NOW_MS / 1000),
      error: null,
      incomplete_details: null,
      access_programs: null,
      instructions: "Be brief.",
      max_output_tokens: null,
      metadata: {},
      parallel_tool_calls: true,
      previous_response_id: null,
      temperature: 0.2,
      tool_choice: "auto",
      tools: [],
      top_p: null,
      store: false,
      model: "gpt-5-codex",
      usage: {
        input_tokens: 12,
        input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
        output_tokens: 3,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: 15,
      },
    });
    const created = events[0].data.response as Fields;
    assert.equal(created.status, "in_progress");
    assert.equal("usage" in created, false, "no usage before the upstream says");
    assert.equal("completed_at" in created, false);
  });

  it("sends the deltas that arrive together as one, and makes no events for a whole answer", () => {
    const events = [reasoning("a"), reasoning("b"), text("c"), text("d"), finish("stop")];
    const streamed = translator();
    const out: ResponsesEvent[] = [];
    streamed.start(out);
    for (const event of events) streamed.accept(event, out);
    const deltas = out.filter((e) => e.type.endsWith(".delta")).map((e) => e.delta);
    assert.deepEqual(deltas, ["ab", "cd"]);
    assertGrammar(parseSse(out.map(sseEvent).join("")));

    const whole = new ResponseTranslator({
      id: "resp_test",
      model: "gpt-5-codex",
      createdAt: 1_780_000_000,
      tools: new Map(),
      echo: {},
      now: () => NOW_MS,
      events: false,
    });
    const none: ResponsesEvent[] = [];
    whole.start(none);
    for (const event of events) whole.accept(event, none);
    whole.finish(none);
    assert.deepEqual(none, []);
    assert.deepEqual(
      { ...whole.response(), output: undefined },
      { ...streamed.response(), output: undefined },
    );
    assert.equal(whole.response().status, "completed");
  });

  it("puts reasoning in a reasoning item's summary before the message", async () => {
    const { response, events } = await run([
      reasoning("Let me "),
      reasoning("think."),
      text("Answer."),
      finish("stop"),
    ]);
    assert.deepEqual(withoutIds(response.output), [
      {
        type: "reasoning",
        status: "completed",
        summary: [{ type: "summary_text", text: "Let me think." }],
      },
      {
        type: "message",
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", text: "Answer.", annotations: [], logprobs: [] }],
      },
    ]);
    assert.deepEqual(events.slice(2, 9).map((e) => e.event), [
      "response.output_item.added",
      "response.reasoning_summary_part.added",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.delta",
      "response.reasoning_summary_text.done",
      "response.reasoning_summary_part.done",
      "response.output_item.done",
    ]);
  });

  it("sends reasoning then two parallel function calls as consecutive items", async () => {
    const { response, events } = await run([
      reasoning("Two reads."),
      call("call_a", "read_file", '{"path":"a.ts"}'),
      call("call_b", "read_file", '{"path":"b.ts"}'),
      finish("tool_calls"),
    ], { read_file: { kind: "function", name: "read_file" } });
    assert.equal(response.status, "completed");
    const output = withoutIds(response.output);
    assert.deepEqual(output.slice(1), [
      {
        type: "function_call",
        status: "completed",
        call_id: "call_a",
        name: "read_file",
        arguments: '{"path":"a.ts"}',
      },
      {
        type: "function_call",
        status: "completed",
        call_id: "call_b",
        name: "read_file",
        arguments: '{"path":"b.ts"}',
      },
    ]);
    const deltas = events.filter((e) => e.event === "response.function_call_arguments.delta");
    assert.deepEqual(deltas.map((e) => [e.data.output_index, e.data.delta]), [
      [1, '{"path":"a.ts"}'],
      [2, '{"path":"b.ts"}'],
    ]);
  });

  it("turns a call of a custom tool (apply_patch) into a custom_tool_call with its input", async () => {
    const patch = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch";
    const { response, events } = await run([
      text("Patching."),
      call("call_p", "apply_patch", JSON.stringify({ input: patch })),
      call("call_q", "apply_patch", "*** Begin Patch (not JSON)"),
      finish("tool_calls"),
    ], { apply_patch: { kind: "custom", name: "apply_patch" } });
    const output = withoutIds(response.output);
    assert.deepEqual(output.slice(1), [
      {
        type: "custom_tool_call",
        status: "completed",
        call_id: "call_p",
        name: "apply_patch",
        input: patch,
      },
      {
        type: "custom_tool_call",
        status: "completed",
        call_id: "call_q",
        name: "apply_patch",
        input: "*** Begin Patch (not JSON)",
      },
    ]);
    assert.ok((response.output as Fields[])[1].id!.toString().startsWith("ctc_"));
    assert.deepEqual(
      events.filter((e) => e.event.startsWith("response.custom_tool_call_input")).map((e) => [
        e.event,
        e.data.delta ?? e.data.input,
      ]),
      [
        ["response.custom_tool_call_input.delta", patch],
        ["response.custom_tool_call_input.done", patch],
        ["response.custom_tool_call_input.delta", "*** Begin Patch (not JSON)"],
        ["response.custom_tool_call_input.done", "*** Begin Patch (not JSON)"],
      ],
    );
  });

  it("names a namespaced function by its origin, and an unknown one as the upstream did", async () => {
    const { response } = await run([
      call("call_n", "mcp__files__read", '{"path":"x"}'),
      call("call_u", "not_offered", "{}"),
      finish("tool_calls"),
    ], { mcp__files__read: { kind: "function", name: "read", namespace: "mcp__files" } });
    assert.deepEqual(withoutIds(response.output), [
      {
        type: "function_call",
        status: "completed",
        call_id: "call_n",
        name: "read",
        namespace: "mcp__files",
        arguments: '{"path":"x"}',
      },
      {
        type: "function_call",
        status: "completed",
        call_id: "call_u",
        name: "not_offered",
        arguments: "{}",
      },
    ]);
  });

  it("sends text that follows a call as a new message after it", async () => {
    const { response } = await run([
      text("First."),
      call("call_1", "shell", '{"command":["ls"]}'),
      text("Then this."),
      finish("tool_calls"),
    ], { shell: { kind: "function", name: "shell" } });
    const output = response.output as Fields[];
    assert.deepEqual(output.map((item) => item.type), ["message", "function_call", "message"]);
    assert.notEqual(output[0].id, output[2].id);
  });

  it("passes arguments that are not JSON as they are, and blank ones as {}", async () => {
    const { response } = await run([
      call("c1", "shell", '{"command": ["ls"'),
      call("c2", "shell", " "),
      finish("tool_calls"),
    ], { shell: { kind: "function", name: "shell" } });
    const output = response.output as Fields[];
    assert.equal(output[0].arguments, '{"command": ["ls"');
    assert.equal(output[1].arguments, "{}");
  });

  it("maps each finish reason", async () => {
    const cases: [string, string, Fields | null, string][] = [
      ["stop", "completed", null, "completed"],
      ["tool_calls", "completed", null, "completed"],
      ["length", "incomplete", { reason: "max_output_tokens" }, "incomplete"],
      ["content_filter", "incomplete", { reason: "content_filter" }, "incomplete"],
    ];
    for (const [reason, status, details, itemStatus] of cases) {
      const { response, events } = await run([text("cut"), finish(reason)]);
      assert.equal(response.status, status, reason);
      assert.deepEqual(response.incomplete_details, details, reason);
      assert.equal((response.output as Fields[])[0].status, itemStatus, reason);
      assert.equal(events.at(-1)!.event, `response.${status}`, reason);
      assert.equal("completed_at" in response, status === "completed", reason);
    }
    const ended = await run([reasoning("no answer yet")]);
    assert.equal(ended.response.status, "completed", "a body that ends without a finish");
  });

  it("maps the usage, cached and cache-written tokens included", async () => {
    const { response } = await run([text("x"), usage(120, 7, 100, 5, 4), finish("stop")]);
    assert.deepEqual(response.usage, {
      input_tokens: 120,
      input_tokens_details: { cached_tokens: 100, cache_write_tokens: 5 },
      output_tokens: 7,
      output_tokens_details: { reasoning_tokens: 4 },
      total_tokens: 127,
    });
  });

  it("ends a broken answer with response.failed and nothing after", async () => {
    const { response, events, translator: t } = await run([
      text("partial"),
      { type: "error", message: "The upstream connection broke", code: null },
      text("never sent"),
      finish("stop"),
    ]);
    assert.equal(events.at(-1)!.event, "response.failed");
    assert.ok(!events.some((e) => e.event === "response.completed"));
    assert.ok(!events.some((e) => e.event === "response.output_item.done"));
    assert.equal(response.status, "failed");
    assert.deepEqual(response.error, {
      code: "server_error",
      message: "The upstream connection broke",
    });
    assert.deepEqual(withoutIds(response.output), [{
      type: "message",
      status: "incomplete",
      role: "assistant",
      content: [{ type: "output_text", text: "partial", annotations: [], logprobs: [] }],
    }]);
    const after: ResponsesEvent[] = [];
    t.fail("again", null, after);
    t.finish(after);
    assert.deepEqual(after, []);

    const busy = await run([{ type: "error", message: "Throttling: too busy", code: null }]);
    assert.equal((busy.response.error as Fields).code, "rate_limit_exceeded");

    const direct = translator();
    const out: ResponsesEvent[] = [];
    direct.start(out);
    direct.fail("The upstream stream failed: reset", null, out);
    const sse = parseSse(out.map(sseEvent).join(""));
    assert.deepEqual(sse.at(-1)!.data.response, direct.response());
    assertGrammar(sse);
    assert.deepEqual(direct.response().error, {
      code: "server_error",
      message: "The upstream stream failed: reset",
    });
  });

  it("gives the same response for a stream and a whole completion of one answer", async () => {
    const encoder = new TextEncoder();
    const chunk = (delta: Fields, finishReason: string | null = null) =>
      `data: ${
        JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finishReason }] })
      }\n\n`;
    const reader = new ChatStreamReader();
    const streamed: ChatEvent[] = [];
    for (
      const part of [
        chunk({ role: "assistant", reasoning_content: "Look " }),
        chunk({ reasoning_content: "first." }),
        chunk({ content: "Reading." }),
        chunk({
          tool_calls: [{
            index: 0,
            id: "call_r",
            type: "function",
            function: { name: "read", arguments: '{"pa' },
          }],
        }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: 'th":"a"}' } }] }),
        chunk({}, "tool_calls"),
        `data: ${
          JSON.stringify({ choices: [], usage: { prompt_tokens: 40, completion_tokens: 9 } })
        }\n\n`,
        "data: [DONE]\n\n",
      ]
    ) reader.push(encoder.encode(part), streamed);
    reader.end(streamed);
    const whole = completionEvents({
      choices: [{
        message: {
          role: "assistant",
          reasoning_content: "Look first.",
          content: "Reading.",
          tool_calls: [{
            id: "call_r",
            type: "function",
            function: { name: "read", arguments: '{"path":"a"}' },
          }],
        },
        finish_reason: "tool_calls",
      }],
      usage: { prompt_tokens: 40, completion_tokens: 9 },
    });
    const tools = { read: { kind: "function", name: "read" } as const };
    const a = await run(streamed, tools);
    const b = await run(whole, tools);
    const { output: outA, ...restA } = a.response;
    const { output: outB, ...restB } = b.response;
    assert.deepEqual(restA, restB);
    assert.deepEqual(withoutIds(outA), withoutIds(outB));
    assert.equal((outA as Fields[]).length, 3);
  });
});

describe("the Responses answer as chat messages", () => {
  function fed(events: ChatEvent[], tools: Record<string, ToolOrigin> = {}) {
    const t = translator(tools);
    const out: ResponsesEvent[] = [];
    t.start(out);
    for (const event of events) t.accept(event, out);
    t.finish(out);
    return t.chatMessages();
  }

  it("is one assistant message with reasoning, text and calls under the upstream's names", () => {
    const messages = fed([
      reasoning("why"),
      text("I'll patch."),
      call("call_p", "apply_patch", '{"input":"*** Begin Patch"}'),
      call("call_n", "mcp__files__read", '{"path":"x"}'),
      finish("tool_calls"),
    ], {
      apply_patch: { kind: "custom", name: "apply_patch" },
      mcp__files__read: { kind: "function", name: "read", namespace: "mcp__files" },
    });
    assert.deepEqual(messages, [{
      role: "assistant",
      content: "I'll patch.",
      reasoning_content: "why",
      tool_calls: [
        {
          id: "call_p",
          type: "function",
          function: { name: "apply_patch", arguments: '{"input":"*** Begin Patch"}' },
        },
        {
          id: "call_n",
          type: "function",
          function: { name: "mcp__files__read", arguments: '{"path":"x"}' },
        },
      ],
    }]);
  });

  it("has null content beside calls only, and nothing for an empty answer", () => {
    assert.deepEqual(fed([call("c", "shell", "{}"), finish("tool_calls")]), [{
      role: "assistant",
      content: null,
      tool_calls: [{ id: "c", type: "function", function: { name: "shell", arguments: "{}" } }],
    }]);
    assert.deepEqual(fed([finish("stop")]), []);
  });
});

describe("the Responses SSE text", () => {
  it("names each event and carries it as one JSON line", () => {
    assert.equal(
      sseEvent({ type: "response.output_text.delta", sequence_number: 4, delta: "a\nb" }),
      'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",' +
        '"sequence_number":4,"delta":"a\\nb"}\n\n',
    );
  });
});

describe("the Responses grammar check", () => {
  function valid() {
    const t = translator({ shell: { kind: "function", name: "shell" } });
    const out: ResponsesEvent[] = [];
    t.start(out);
    for (const event of [text("a"), text("b"), call("c", "shell", "{}"), finish("stop")]) {
      t.accept(event, out);
    }
    return parseSse(out.map(sseEvent).join(""));
  }
  /** The events with one change, numbered again so that only the change can fail. */
  function broken(change: (events: { event: string; data: Fields }[]) => void) {
    const events = valid();
    change(events);
    events.forEach((e, i) => e.data.sequence_number = i);
    return events;
  }
  const at = (events: { event: string }[], type: string) =>
    events.findIndex((e) => e.event === type);

  it("passes a translated stream and rejects each kind of break", () => {
    assertGrammar(valid());
    const breaks: [string, (events: { event: string; data: Fields }[]) => void][] = [
      ["a missing part", (e) => e.splice(at(e, "response.content_part.added"), 1)],
      ["a delta of another item", (e) => e[at(e, "response.output_text.delta")].data.item_id = "x"],
      ["a done text that differs", (e) => e[at(e, "response.output_text.done")].data.text = "ab!"],
      ["a second terminal event", (e) => e.push(structuredClone(e.at(-1)!))],
      ["an item missing from the end", (e) => {
        const response = e.at(-1)!.data.response as Fields;
        (response.output as Fields[]).pop();
      }],
      ["a gap in output_index", (e) => {
        for (const event of e.slice(at(e, "response.function_call_arguments.delta") - 1)) {
          if (typeof event.data.output_index === "number") event.data.output_index = 2;
        }
      }],
      ["an item added inside another", (e) => e.splice(at(e, "response.output_item.done"), 1)],
    ];
    for (const [name, change] of breaks) {
      assert.throws(() => assertGrammar(broken(change)), assert.AssertionError, name);
    }
    const skipped = valid();
    skipped[3].data.sequence_number = 7;
    assert.throws(() => assertGrammar(skipped), assert.AssertionError, "a sequence number");
  });
});
