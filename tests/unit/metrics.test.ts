import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Metrics } from "../../src/server/metrics.ts";

function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("Metrics", () => {
  it("counts each combination of status, model and account apart, in any order", () => {
    const metrics = new Metrics();
    const calls: [number, string | undefined, string | undefined][] = [
      [200, "m1", "a"],
      [200, "m1", "a"],
      [500, "m1", "a"],
      [200, "m2", "a"],
      [200, "m1", "b"],
      [200, "m1", "a"],
      [0, undefined, undefined],
      [0, undefined, undefined],
    ];
    for (const [status, model, account] of calls) metrics.request(status, model, account, 5);
    const text = metrics.render();
    const count = (status: number, model: string, account: string) =>
      sample(
        text,
        `qwen_requests_total{status="${status}",model="${model}",account="${account}"}`,
      );
    assert.equal(count(200, "m1", "a"), 3);
    assert.equal(count(500, "m1", "a"), 1);
    assert.equal(count(200, "m2", "a"), 1);
    assert.equal(count(200, "m1", "b"), 1);
    assert.equal(count(0, "", ""), 2);
    assert.equal(sample(text, "qwen_request_duration_seconds_count"), calls.length);

    // The first call of all, with labels no earlier call could have left behind.
    const fresh = new Metrics();
    fresh.request(0, undefined, undefined, 5);
    assert.equal(sample(fresh.render(), 'qwen_requests_total{status="0",model="",account=""}'), 1);
  });

  it("adds tokens to the account they were reported for", () => {
    const metrics = new Metrics();
    metrics.tokens("a", { promptTokens: 1, completionTokens: 2 });
    metrics.tokens("b", { promptTokens: 10, completionTokens: 20 });
    metrics.tokens("a", { promptTokens: 100, completionTokens: 200 });
    metrics.tokens("", { promptTokens: 7, completionTokens: 8 });
    const text = metrics.render();
    const tokens = (account: string, kind: string) =>
      sample(text, `qwen_tokens_total{account="${account}",kind="${kind}"}`);
    assert.equal(tokens("a", "prompt"), 101);
    assert.equal(tokens("a", "completion"), 202);
    assert.equal(tokens("b", "prompt"), 10);
    assert.equal(tokens("b", "completion"), 20);
    assert.equal(tokens("", "prompt"), 7);
    assert.equal(tokens("", "completion"), 8);
  });
});
