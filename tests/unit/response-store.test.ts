import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ResponseStore } from "../../src/server/openai-responses/store.ts";

const entry = (text: string) => ({
  response: { id: "r", output: [{ type: "message", content: [{ type: "output_text", text }] }] },
  conversation: [{ role: "user" as const, content: text }],
});

describe("the response store", () => {
  it("keeps the newest responses up to its count, the oldest out first", () => {
    const store = new ResponseStore(2);
    store.put("a", entry("1"), []);
    store.put("b", entry("2"), []);
    store.put("c", entry("3"), []);
    assert.equal(store.get("a"), undefined);
    assert.ok(store.get("b") && store.get("c"));
    assert.equal(store.size, 2);
    assert.equal(store.delete("b"), true);
    assert.equal(store.delete("b"), false);
    assert.equal(store.size, 1);
  });

  it("stays under its size, counting what each turn adds", () => {
    const store = new ResponseStore(1000, 100_000);
    const big = "x".repeat(10_000);
    for (let i = 0; i < 50; i++) {
      const added = [{ role: "user", content: big }];
      store.put(`r${i}`, entry(big), added);
      assert.ok(store.bytes <= 100_000, `${store.bytes} bytes after ${i + 1}`);
    }
    assert.ok(store.size >= 2 && store.size < 10, String(store.size));
    assert.ok(store.get("r49"));
    assert.equal(store.get("r0"), undefined);
  });

  it("keeps nothing when told 0, or a response larger than the whole store", () => {
    const none = new ResponseStore(0);
    none.put("a", entry("1"), []);
    assert.equal(none.size, 0);
    const small = new ResponseStore(10, 1_000);
    small.put("huge", entry("y".repeat(5_000)), []);
    assert.equal(small.get("huge"), undefined);
    assert.equal(small.bytes, 0);
  });
});
