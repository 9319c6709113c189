import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { scanChatBody } from "../../src/server/json-scan.ts";

const scan = (text: string) => scanChatBody(new TextEncoder().encode(text));

describe("scanChatBody", () => {
  it("reads the model of a well-formed request and agrees with JSON.parse", () => {
    const bodies = [
      '{"model":"qwen3-coder-plus","messages":[{"role":"user","content":"hi"}]}',
      ' {\n "messages" : [ ] , "model" : "m\\u00e9\\"x" , "n": -1.5e+3, "t": true, "f": false, "z": null } \n',
      '{"messages":[{"content":"a \\\\\\" b \\\\","x":[1,[2,{"y":"}]"}]]}],"model":{"a":1}}',
      '{"model":"first","messages":[],"model":"second"}',
      '{"messages":[],"stream":true,"tools":[{"type":"function","function":{"name":"ü","parameters":{}}}]}',
    ];
    for (const text of bodies) {
      const parsed = JSON.parse(text);
      const result = scan(text);
      assert.ok(result, text);
      assert.equal(result.hasModel, parsed.model !== undefined, text);
      assert.equal(result.model, typeof parsed.model === "string" ? parsed.model : undefined, text);
    }
  });

  it("leaves everything else to JSON.parse", () => {
    for (
      const text of [
        "{nope",
        "[]",
        '"x"',
        "{}",
        '{"model":"m"}',
        '{"messages":"hi"}',
        '{"messages":[]',
        '{"messages":[]} x',
        '{"messages":[tru]}',
        '{"messages":[1,]}',
        '{"messages":[],}',
        '{"mod\\u0065l":"x","messages":[]}',
        '{"messages":["unterminated]}',
        '{"model":"\\x","messages":[]}',
        '\ufeff{"messages":[]}',
        '{"messages":' + "[".repeat(10_000) + "]".repeat(10_000) + "}",
      ]
    ) {
      assert.equal(scan(text), undefined, text);
    }
  });
});
