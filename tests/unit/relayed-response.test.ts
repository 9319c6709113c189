import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { relayedResponse } from "../../src/upstream/headers.ts";
import { withServer } from "../helpers/with-server.ts";

describe("relayedResponse", () => {
  it("keeps the upstream's own headers and drops hop-by-hop, framing and cookies", async () => {
    const sent = {
      "content-type": "application/json",
      "x-request-id": "req-1",
      "vary": "Origin",
      "set-cookie": "session=secret",
      "keep-alive": "timeout=5",
      "content-encoding": "identity",
    };
    await withServer(() => new Response('{"ok":true}', { headers: sent }), async (server) => {
      const upstream = await fetch(server.url);
      const response = relayedResponse(await upstream.bytes(), 201, upstream.headers);
      assert.equal(response.status, 201);
      assert.equal(response.headers.get("content-type"), "application/json");
      assert.equal(response.headers.get("x-request-id"), "req-1");
      assert.equal(response.headers.get("vary"), "Origin");
      for (const name of ["set-cookie", "keep-alive", "content-encoding", "content-length"]) {
        assert.equal(response.headers.get(name), null, name);
      }
      assert.deepEqual(await response.json(), { ok: true });
      // The copy is the client's own: the app adds CORS headers to it.
      response.headers.set("access-control-allow-origin", "http://localhost:3000");
      assert.equal(upstream.headers.get("access-control-allow-origin"), null);
    });
  });

  it("answers without a body when there is none", () => {
    const upstream = new Headers({ "x-request-id": "req-2", "content-length": "0" });
    const response = relayedResponse(null, 204, upstream);
    assert.equal(response.status, 204);
    assert.equal(response.body, null);
    assert.equal(response.headers.get("x-request-id"), "req-2");
    assert.equal(response.headers.get("content-length"), null);
  });
});
