import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { jsonSyntaxError } from "../../src/lib/json-syntax.ts";

function refused(text: string): boolean {
  try {
    JSON.parse(text);
    return false;
  } catch {
    return true;
  }
}

describe("jsonSyntaxError", () => {
  it("says where a text stops being JSON, without quoting it", () => {
    const cases: [string, RegExp][] = [
      ['{"access_token": sk-secret-abcdef}', /unexpected character at line 1, column 18\)$/],
      ['{\n  "access_token": "sk-secret-abc', /string never closed at line 2, column 19\)$/],
      ["sk-secret-token-xyz", /unexpected character at line 1, column 1\)$/],
      ['{"a":1} trailing-secret', /unexpected character at line 1, column 9\)$/],
      ['{"a": [1, 2,]}', /unexpected character at line 1, column 13\)$/],
      ['{"a": 1,\n}', /unexpected character at line 2, column 1\)$/],
      ['{"a": "x\\q"}', /bad escape in a string at line 1, column 9\)$/],
      ['{"a": "tab\there"}', /control character in a string at line 1, column 11\)$/],
      ['{"a": 01}', /unexpected character at line 1, column 8\)$/],
      ['{"a": tru}', /unexpected character at line 1, column 7\)$/],
      ['{"a" 1}', /unexpected character at line 1, column 6\)$/],
      ["[".repeat(100_000), /unexpected end of the text at line 1, column 100001\)$/],
      ["\uFEFF{}", /unexpected character at line 1, column 1\)$/],
    ];
    for (const [text, pattern] of cases) {
      assert.ok(refused(text), text.slice(0, 40));
      const message = jsonSyntaxError(text);
      assert.match(message, /^not valid JSON \(/);
      assert.match(message, pattern, text.slice(0, 40));
      assert.ok(!/secret|sk-|tru|trailing/.test(message), message);
    }
  });

  it("finds a fault wherever JSON.parse refuses, and none where it accepts", () => {
    const valid = [
      '{"access_token":"a","refresh_token":"b","token_type":"Bearer","expiry_date":1.5e12}',
      '[true, false, null, -0.5, 1E+3, "\\u00e9\\n", {}, [], {"x": [{"y": ""}]}]',
      ' \t\r\n"only a string" ',
      "0",
    ];
    // Every valid text, cut short and with each character replaced by one that often breaks it.
    let seed = 17;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const texts = [...valid];
    for (const text of valid) {
      for (let i = 0; i <= text.length; i++) texts.push(text.slice(0, i));
      for (let n = 0; n < 300; n++) {
        const at = Math.floor(random() * text.length);
        const c = '{}[],:"\\ 0-.eEtfnu\u0001x'[Math.floor(random() * 21)];
        texts.push(text.slice(0, at) + c + text.slice(at + 1));
      }
    }
    for (const text of texts) {
      const positioned = / at line \d+, column \d+\)$/.test(jsonSyntaxError(text));
      assert.equal(positioned, refused(text), JSON.stringify(text));
    }
  });
});
