/**
 * Requests no well-behaved client sends, written byte for byte to the app on the runtime's own
 * server: whatever the request line and headers, the answer is ours, in JSON (issue 17, items 3
 * and 6).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Server } from "../../src/runtime/mod.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { startServer, withServer } from "../helpers/with-server.ts";
import { type Harness, setup } from "./harness.ts";

async function served(app: Parameters<typeof setup>[0] = {}) {
  const bound: { server?: Server } = {};
  const h = await setup({ ...app, security: { port: () => bound.server?.port } });
  const server = bound.server = await startServer(h.app);
  return { h, server, close: () => server.close(true).then(() => h.close()) };
}

function assertJson(answer: { status: number; headers: Headers; body: string }, what: string) {
  assert.match(answer.headers.get("content-type") ?? "", /^application\/json/, what);
  assert.doesNotThrow(() => JSON.parse(answer.body), `${what}: ${answer.body.slice(0, 200)}`);
}

describe("raw requests: every answer is the app's, in JSON", () => {
  let s: Awaited<ReturnType<typeof served>>;
  let h: Harness;
  before(async () => {
    s = await served();
    h = s.h;
  });
  after(() => s.close());

  it("answers a path the URL parser rewrites, whatever the Host, in JSON", async () => {
    // `curl --http1.0 --path-as-is -H 'Host:' http://127.0.0.1:PORT/v1/%2e` got Bun's HTML
    // error page (working directory, source lines) and a stack trace on stderr.
    for (const target of ["/v1/%2e", "/v1/./models", "/v1/../health", "/v1\\models", "/v1/%zz"]) {
      for (const host of [["Host:"], [], ["Host: a:b:c"], ["Host: [::1"]]) {
        const what = `GET ${target} with ${JSON.stringify(host)}`;
        const answer = await rawRequest(
          s.server.port,
          [`GET ${target} HTTP/1.0`, ...host].join("\r\n"),
        );
        assertJson(answer, what);
        assert.ok(answer.status < 500, `${what}: ${answer.status} ${answer.body}`);
      }
    }
  });

  it("routes a request without Host by its path", async () => {
    // Bun gives such a request a relative URL ("/health"), which was read as no path at all.
    const health = await rawRequest(s.server.port, "GET /health HTTP/1.0");
    assertJson(health, "GET /health");
    assert.ok("status" in JSON.parse(health.body), health.body);
    const models = await rawRequest(s.server.port, "GET /v1/models HTTP/1.0");
    assert.equal(models.status, 200, models.body);
    assert.equal(JSON.parse(models.body).object, "list");
    assert.equal(h.entries.at(-1)?.path, "/v1/models");
  });
});

describe("the runtime adapter", () => {
  it("answers a handler that throws with a JSON 500 that names nothing of the server", async () => {
    await withServer(() => {
      throw new Error(`boom in ${import.meta.url}`);
    }, async (server) => {
      const answer = await rawRequest(server.port, "GET /v1/models HTTP/1.0");
      assert.equal(answer.status, 500);
      assertJson(answer, "a throwing handler");
      assert.doesNotMatch(answer.body, /boom|file:|\//);
    });
  });
});

describe("raw requests: request bodies above the runtime's own limit", () => {
  const MiB = 1024 * 1024;
  let s: Awaited<ReturnType<typeof served>>;
  before(async () => (s = await served({ app: { maxBodyBytes: 256 * MiB } })));
  after(() => s.close());

  // Bun refuses a body over 128 MiB by default with a bare 413 and an empty body, before the app
  // sees the request: with --max-body above that, every 413 must still be ours.
  it("lets a declared body over 128 MiB reach the app", async () => {
    const answer = await rawRequest(
      s.server.port,
      `POST /health HTTP/1.1\r\nHost: 127.0.0.1:${s.server.port}\r\nContent-Length: ${
        200 * MiB
      }\r\nConnection: close`,
    );
    assert.equal(answer.status, 405, answer.body);
    assertJson(answer, "POST /health");
  });

  it("answers a declared body over --max-body with its own 413", async () => {
    const answer = await rawRequest(
      s.server.port,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:${s.server.port}\r\n` +
        "Content-Type: application/json\r\n" +
        `Content-Length: ${300 * MiB}\r\nConnection: close`,
    );
    assert.equal(answer.status, 413, answer.body);
    assertJson(answer, "a body over --max-body");
    assert.equal(JSON.parse(answer.body).error.code, "request_too_large");
    assert.match(JSON.parse(answer.body).error.message, /--max-body/);
  });
});
