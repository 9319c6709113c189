import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Metrics } from "../../src/server/metrics.ts";

/**
 * The samples of a scrape as the Prometheus text format (0.0.4) reads them: a label value ends at
 * the first unescaped quote, and knows the escapes \\, \" and \n only. Throws where a
 * scraper would refuse the text.
 */
function parseSamples(
  text: string,
): { name: string; labels: Record<string, string>; value: number }[] {
  const samples = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    assert.ok(name, `no metric name in ${JSON.stringify(line)}`);
    let i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === "{") {
      i++;
      while (line[i] !== "}") {
        const key = /^[a-zA-Z_][a-zA-Z0-9_]*="/.exec(line.slice(i))?.[0];
        assert.ok(key, `bad label at ${i} in ${JSON.stringify(line)}`);
        i += key.length;
        let value = "";
        for (;;) {
          const c = line[i++];
          assert.ok(c !== undefined, `unterminated label value in ${JSON.stringify(line)}`);
          if (c === '"') break;
          if (c !== "\\") {
            value += c;
            continue;
          }
          const escaped = line[i++];
          assert.ok(escaped === "\\" || escaped === '"' || escaped === "n", `bad escape`);
          value += escaped === "n" ? "\n" : escaped;
        }
        const label = key.slice(0, -2);
        assert.ok(!(label in labels), `label ${label} twice in ${JSON.stringify(line)}`);
        labels[label] = value;
        if (line[i] === ",") i++;
      }
      i++;
    }
    assert.equal(line[i], " ", `no value in ${JSON.stringify(line)}`);
    samples.push({ name, labels, value: Number(line.slice(i + 1)) });
  }
  return samples;
}

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

  it("keeps models named with a NUL, quote, backslash or newline in series of their own", () => {
    const metrics = new Metrics();
    const models = ["m\0a", "m", 'say "hi"', "back\\slash", "two\nlines", "a\0b\0c", "\\n"];
    for (const model of models) metrics.request(200, model, "a", 5);
    // A model that could pass for another series' labels once joined and split.
    metrics.request(200, "m", "a", 5);
    const requests = parseSamples(metrics.render()).filter((s) => s.name === "qwen_requests_total");
    const seen = new Set<string>();
    for (const { labels } of requests) {
      assert.deepEqual(Object.keys(labels), ["status", "model", "account"]);
      const series = JSON.stringify(labels);
      assert.ok(!seen.has(series), `two samples for ${series}`);
      seen.add(series);
    }
    const count = (model: string) =>
      requests.find((s) => s.labels.model === model && s.labels.account === "a")?.value;
    for (const model of models) assert.equal(count(model), model === "m" ? 2 : 1, model);
    assert.equal(requests.length, models.length);
  });
});
