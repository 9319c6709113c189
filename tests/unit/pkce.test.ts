import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { base64Url, codeChallengeFor, createPkce } from "../../src/oauth/pkce.ts";

describe("pkce", () => {
  it("makes a 43-character base64url verifier from 32 random bytes", async () => {
    const a = await createPkce();
    const b = await createPkce();
    assert.match(a.verifier, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a.verifier, b.verifier);
    assert.equal(a.method, "S256");
  });

  it("derives the S256 challenge of RFC 7636 appendix B", async () => {
    assert.equal(
      await codeChallengeFor("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("encodes without padding or URL-unsafe characters", () => {
    assert.equal(base64Url(new Uint8Array([0xfb, 0xff])), "-_8");
  });
});
