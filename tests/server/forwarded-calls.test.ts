/**
 * Other `/v1/...` paths, forwarded with the account's credentials (issue 17, item 8): only the
 * methods the API uses go upstream, and only generation calls are sent again after a 5xx.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Server } from "../../src/runtime/mod.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { startServer } from "../helpers/with-server.ts";
import { HELLO, setup } from "./harness.ts";

describe("forwarded paths: methods", () => {
  let h: Awaited<ReturnType<typeof setup>>;
  let server: Server;
  before(async () => {
    const bound: { server?: Server } = {};
    h = await setup({ security: { port: () => bound.server?.port } });
    server = bound.server = await startServer(h.app);
  });
  after(async () => {
    await server.close(true);
    await h.close();
  });

  const send = (method: string, path: string) =>
    rawRequest(
      server.port,
      `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nConnection: close`,
    );

  it("answers TRACE, PUT, PATCH and unknown methods 405 itself, sending nothing upstream", async () => {
    // Bun forwarded TRACE, PUT and PATCH with the account's token; Deno forwarded PUT, PATCH and
    // FOO, and its fetch refused TRACE, which was taken for a network failure (502 after retries).
    for (const method of ["TRACE", "PUT", "PATCH", "FOO"]) {
      const calls = h.upstream.requests.length;
      const answer = await send(method, "/v1/files").catch((error: Error) => error);
      if (answer instanceof Error) {
        // Bun's parser closes the connection on a method it does not know: nothing to forward.
        assert.equal(method, "FOO", `${method}: ${answer.message}`);
      } else {
        assert.equal(answer.status, 405, `${method}: ${answer.body}`);
        assert.equal(answer.headers.get("allow"), "GET, HEAD, POST, DELETE");
        assert.equal(JSON.parse(answer.body).error.code, "method_not_allowed");
      }
      assert.equal(h.upstream.requests.length, calls, `${method} went upstream`);
    }
  });

  it("still forwards GET, HEAD, POST and DELETE", async () => {
    for (const method of ["GET", "HEAD", "POST", "DELETE"]) {
      const calls = h.upstream.requests.length;
      const answer = await send(method, "/v1/files");
      assert.equal(answer.status, 404, `${method}: ${answer.body}`); // the fake's: no such path
      assert.equal(h.upstream.requests.at(-1)?.method, method);
      assert.equal(h.upstream.requests.length, calls + 1);
    }
  });
});

describe("forwarded paths: 5xx", () => {
  it("relays a forwarded call's 5xx at once, without retrying it", async () => {
    let filesCalls = 0;
    const h = await setup({
      app: {
        fetch: (input, init) => {
          if (String(input).endsWith("/files")) {
            filesCalls++;
            return Promise.resolve(
              Response.json({ error: { message: "busy", code: "ServiceUnavailable" } }, {
                status: 503,
              }),
            );
          }
          return fetch(input, init);
        },
      },
    });
    try {
      const response = await h.call("/v1/files", { method: "POST", body: "x" });
      assert.equal(response.status, 503);
      assert.equal((await response.json()).error.message, "busy");
      assert.equal(filesCalls, 1);
      assert.deepEqual(h.sleeps, []);
      assert.equal(h.entries.at(-1)?.retries, 0);
    } finally {
      await h.close();
    }
  });

  it("still retries a generation call's 5xx on every generation route", async () => {
    const h = await setup();
    try {
      const routes: [string, unknown][] = [
        ["/v1/chat/completions", HELLO],
        ["/v1/messages", { model: "claude-x", max_tokens: 5, messages: HELLO.messages }],
        ["/v1/responses", { model: "coder-model", input: "hi" }],
      ];
      for (const [path, json] of routes) {
        const calls = h.upstream.chatRequests.length;
        h.upstream.next({ kind: "error", status: 503, body: '{"message":"busy"}' });
        const response = await h.call(path, { json });
        assert.equal(response.status, 200, path);
        await response.body?.cancel();
        assert.equal(h.upstream.chatRequests.length - calls, 2, path);
      }
    } finally {
      await h.close();
    }
  });
});
