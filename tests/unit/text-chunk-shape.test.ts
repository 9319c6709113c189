import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TextChunkShape } from "../../src/upstream/stream/text-chunk-shape.ts";
import { type ChatEvent, ChatStreamReader } from "../../src/upstream/stream/chat-events.ts";

const encoder = new TextEncoder();

/** A chunk as DashScope's compatible mode writes one: choices first, the id last. */
function qwenChunk(delta: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    choices: [{ delta, finish_reason: null, index: 0, logprobs: null }],
    object: "chat.completion.chunk",
    usage: null,
    created: 1765000000,
    system_fingerprint: null,
    model: "qwen3-coder-plus",
    id: "chatcmpl-6b3e9d1f-0c2a-4e5b-8f7a-1d2c3b4a5e6f",
    ...extra,
  });
}

function read(datas: readonly string[], split?: number): ChatEvent[] {
  const reader = new ChatStreamReader();
  const events: ChatEvent[] = [];
  const body = encoder.encode(datas.map((data) => `data: ${data}\n\n`).join(""));
  const step = split ?? body.length;
  for (let i = 0; i < body.length; i += step) reader.push(body.subarray(i, i + step), events);
  reader.end(events);
  return events;
}

describe("TextChunkShape", () => {
  const learnt = qwenChunk({ content: "Hello" });
  const shape = TextChunkShape.of(learnt, "text", "content")!;

  it("reads the piece of a chunk that differs only there", () => {
    assert.equal(shape.kind, "text");
    assert.equal(shape.pieceOf(qwenChunk({ content: " world" })), " world");
    assert.equal(shape.pieceOf(qwenChunk({ content: "" })), "");
  });

  it("reads escapes the way JSON.parse does", () => {
    for (
      const text of [
        'say "hi"\n',
        "tab\there",
        "back\\slash\\",
        "é ü 中文 🙂",
        "\u0001",
        '"},"x":"',
      ]
    ) {
      assert.equal(shape.pieceOf(qwenChunk({ content: text })), text);
    }
    // A writer that escapes what JSON.stringify leaves as it is.
    const escaped = qwenChunk({ content: "PLACEHOLDER" }).replace("PLACEHOLDER", "caf\\u00e9 \\/");
    assert.equal(shape.pieceOf(escaped), "café /");
  });

  it("leaves anything else to the parser", () => {
    const others = [
      qwenChunk({ content: "Hi" }, { created: 1765000001 }),
      qwenChunk({ content: "Hi", role: "assistant" }),
      JSON.stringify({
        choices: [{ delta: { content: "Hi" }, finish_reason: "stop", index: 0, logprobs: null }],
      }),
      // The string ends early: another field sits between the learnt text's two sides.
      learnt.replace('"Hello"', '"a","tool_calls":[],"b":"c"'),
      learnt.replace('"Hello"', '"a\\"'),
      learnt.replace('"Hello"', '"raw\tcontrol"'),
      learnt.slice(0, 40),
      "",
    ];
    for (const data of others) assert.equal(shape.pieceOf(data), undefined, data);
  });

  it("learns nothing from a chunk whose key is not there exactly once with a string", () => {
    assert.equal(
      TextChunkShape.of('{"content":"a","x":{"content":"b"}}', "text", "content"),
      undefined,
    );
    assert.equal(TextChunkShape.of('{"content":null}', "text", "content"), undefined);
    assert.equal(TextChunkShape.of('{"content":"unterminated', "text", "content"), undefined);
    assert.equal(TextChunkShape.of('{"text":"a"}', "text", "content"), undefined);
  });

  it("takes space around the colon", () => {
    const spaced = '{"choices": [{"delta": {"content": "a"}, "index": 0}]}';
    const spacedShape = TextChunkShape.of(spaced, "text", "content")!;
    assert.equal(spacedShape.pieceOf(spaced.replace('"a"', '"bc"')), "bc");
  });
});

describe("ChatStreamReader with learnt shapes", () => {
  it("gives the events a parse of every chunk gives", () => {
    const datas = [
      qwenChunk({ content: "", role: "assistant" }),
      qwenChunk({ content: null, reasoning_content: "Let me think" }),
      qwenChunk({ content: null, reasoning_content: ' about "it"' }),
      qwenChunk({ content: "Hello" }),
      qwenChunk({ content: " wor" }),
      qwenChunk({ content: "" }),
      qwenChunk({ content: 'ld \\ "}' }),
      qwenChunk({
        content: null,
        tool_calls: [{ index: 0, id: "call_1", function: { name: "ls", arguments: "{}" } }],
      }),
      qwenChunk({ content: "after the call" }),
      JSON.stringify({
        choices: [{ delta: { content: "" }, finish_reason: "stop", index: 0 }],
        usage: { prompt_tokens: 3, completion_tokens: 4 },
      }),
      "[DONE]",
    ];
    const expected: ChatEvent[] = [
      { type: "reasoning", text: "Let me think" },
      { type: "reasoning", text: ' about "it"' },
      { type: "text", text: "Hello" },
      { type: "text", text: " wor" },
      { type: "text", text: 'ld \\ "}' },
      { type: "tool_call", id: "call_1", name: "ls", arguments: "{}" },
      { type: "text", text: "after the call" },
      {
        type: "usage",
        usage: {
          promptTokens: 3,
          completionTokens: 4,
          cachedTokens: 0,
          cacheWriteTokens: 0,
          reasoningTokens: 0,
        },
      },
      { type: "finish", reason: "stop" },
    ];
    assert.deepEqual(read(datas), expected);
    assert.deepEqual(read(datas, 7), expected);
  });

  it("reads a chunk with the learnt sides and another field between them as that field says", () => {
    const learnt = qwenChunk({ content: "a" });
    // Same text before and after the content's string, but a tool call between: not a text chunk.
    const sneaky = learnt.replace(
      '"a"',
      '"b","tool_calls":[{"index":0,"id":"c1","function":{"name":"f","arguments":"{}"}}],"x":"y"',
    );
    assert.deepEqual(read([learnt, sneaky]), [
      { type: "text", text: "a" },
      { type: "text", text: "b" },
      { type: "tool_call", id: "c1", name: "f", arguments: "{}" },
    ]);
  });

  it("still reports a chunk that is not JSON", () => {
    const learnt = qwenChunk({ content: "a" });
    const broken = learnt.replace('"a"', '"raw\tcontrol"');
    const events = read([learnt, broken]);
    assert.deepEqual(events[0], { type: "text", text: "a" });
    assert.equal(events[1].type, "error");
    assert.equal((events[1] as { code: string }).code, "upstream_bad_event");
  });

  it("agrees with the pieces written, over many random streams", () => {
    const alphabet = ["a", " ", '"', "\\", "\n", "é", "中", "🙂", "}", ",", ":", "{", "\t", "/"];
    let seed = 7;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const piece = () => {
      let text = "";
      const length = Math.floor(random() * 6);
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      return text;
    };
    for (let stream = 0; stream < 200; stream++) {
      const datas: string[] = [];
      const expected: ChatEvent[] = [];
      const count = 1 + Math.floor(random() * 12);
      for (let i = 0; i < count; i++) {
        const text = piece();
        const reasoning = random() < 0.3;
        const extra = random() < 0.2 ? { created: 1765000000 + i } : {};
        datas.push(
          reasoning
            ? qwenChunk({ content: null, reasoning_content: text }, extra)
            : qwenChunk({ content: text }, extra),
        );
        if (text !== "") expected.push({ type: reasoning ? "reasoning" : "text", text });
      }
      assert.deepEqual(read(datas, 1 + Math.floor(random() * 300)), expected);
    }
  });
});

describe("ChatStreamReader's decoding", () => {
  const bom = new Uint8Array([0xef, 0xbb, 0xbf]);
  const text = (data: string) => encoder.encode(`data: ${data}\n\n`);
  const piece = (content: string) => qwenChunk({ content });

  function readChunks(chunks: Uint8Array[]): ChatEvent[] {
    const reader = new ChatStreamReader();
    const events: ChatEvent[] = [];
    for (const chunk of chunks) reader.push(chunk, events);
    reader.end(events);
    return events;
  }

  it("drops a byte order mark at the start of the body", () => {
    const first = text(piece("a"));
    const withMark = new Uint8Array(bom.length + first.length);
    withMark.set(bom);
    withMark.set(first, bom.length);
    assert.deepEqual(readChunks([withMark, text(piece("x"))]), [
      { type: "text", text: "a" },
      { type: "text", text: "x" },
    ]);
  });

  it("reads characters split between chunks, and a mark split at the start", () => {
    const body = encoder.encode(
      `data: ${piece("é中🙂")}\n\ndata: ${piece("\uFEFFmark")}\n\n`,
    );
    const whole = new Uint8Array(bom.length + body.length);
    whole.set(bom);
    whole.set(body, bom.length);
    const expected: ChatEvent[] = [
      { type: "text", text: "é中🙂" },
      { type: "text", text: "\uFEFFmark" },
    ];
    for (let size = 1; size <= 9; size++) {
      const chunks: Uint8Array[] = [];
      for (let i = 0; i < whole.length; i += size) chunks.push(whole.subarray(i, i + size));
      assert.deepEqual(readChunks(chunks), expected, `chunks of ${size} bytes`);
    }
    // A later chunk that starts with U+FEFF, after chunks that each ended on a whole character.
    const [head, tail] = piece("b").split('"b"');
    const parts = [
      encoder.encode(`data: ${piece("a")}\n\n`),
      encoder.encode(`data: ${head}"`),
      encoder.encode(`\uFEFFb"${tail}\n\n`),
    ];
    assert.deepEqual(readChunks(parts), [
      { type: "text", text: "a" },
      { type: "text", text: "\uFEFFb" },
    ]);
  });
});
