import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { scanChatBody } from "../../src/server/json-scan.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

// Each runtime scans one form (Runtime.scanAsText): every case runs on both.
const forms = [
  { name: "bytes", scan: (text: string) => scanChatBody(encoder.encode(text)) },
  { name: "text", scan: (text: string) => scanChatBody(decoder.decode(encoder.encode(text))) },
];

for (const { name, scan } of forms) {
  describe(`scanChatBody (${name})`, () => {
    it("reads the model of a well-formed request and agrees with JSON.parse", () => {
      const bodies = [
        '{"model":"qwen3-coder-plus","messages":[{"role":"user","content":"hi"}]}',
        ' {\n "messages" : [ ] , "model" : "m\\u00e9\\"x" , "n": -1.5e+3, "t": true, "f": false, "z": null } \n',
        '{"messages":[{"content":"a \\\\\\" b \\\\","x":[1,[2,{"y":"}]"}]]}],"model":{"a":1}}',
        '{"model":"first","messages":[],"model":"second"}',
        '{"messages":[],"stream":true,"tools":[{"type":"function","function":{"name":"ü","parameters":{}}}]}',
        '{"model":"","messages":[]}',
        '{"model":"a\\u0000b\\/c\\u007f\u007f~ ","messages":[]}',
      ];
      for (const text of bodies) {
        const parsed = JSON.parse(text);
        const result = scan(text);
        assert.ok(result, text);
        assert.equal(result.hasModel, parsed.model !== undefined, text);
        assert.equal(
          result.model,
          typeof parsed.model === "string" ? parsed.model : undefined,
          text,
        );
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
          '{"model":"a\tb","messages":[]}',
          '\ufeff{"messages":[]}',
          '{"messages":' + "[".repeat(10_000) + "]".repeat(10_000) + "}",
        ]
      ) {
        assert.equal(scan(text), undefined, text);
      }
    });

    it("skips text in any script, including quotes escaped after multibyte characters", () => {
      const text = '{"messages":[{"content":"你好 \\"世界\\" ü\\\\"}],"model":"通义-ü"}';
      assert.deepEqual(scan(text), { model: "通义-ü", hasModel: true });
    });

    it("reads each request's own model when consecutive requests differ", () => {
      // The last model read is kept for the next request: none may get another's.
      const models = [
        "qwen3-coder-plus",
        "qwen3-coder-plus",
        "qwen3-coder-next",
        "ab",
        "ac",
        'a"c',
      ];
      models.push("qwen3-coder-plus", "", "ab", "通义");
      for (const model of models) {
        const text = `{"model":${JSON.stringify(model)},"messages":[]}`;
        assert.deepEqual(scan(text), { model, hasModel: true }, text);
      }
    });
  });
}
