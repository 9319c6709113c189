import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type OAuthCredentials,
  readOAuthCredentials,
  writeOAuthCredentials,
} from "../../src/credentials/store.ts";
import { OAuthTokenSource } from "../../src/credentials/token-source.ts";
import { tempHome } from "../helpers/run-cli.ts";

const sample: OAuthCredentials = {
  access_token: "access-sample",
  refresh_token: "refresh-sample",
  token_type: "Bearer",
  resource_url: "portal.qwen.ai",
  expiry_date: 1_900_000_000_000,
};

describe("credentials store", () => {
  let home: string;
  let cleanup: () => Promise<void>;
  let n = 0;
  const fresh = () => join(home, `case-${++n}`);

  before(async () => {
    ({ home, cleanup } = await tempHome());
  });
  after(async () => {
    await cleanup();
  });

  it("writes atomically: only the target is left, no temp files", async () => {
    const dir = fresh();
    const path = join(dir, "oauth_creds.json");
    await writeOAuthCredentials(path, sample);
    await writeOAuthCredentials(path, { ...sample, access_token: "access-2" });
    assert.deepEqual(await readdir(dir), ["oauth_creds.json"]);
  });

  it("creates the file with mode 0600 and the directory with mode 0700", async () => {
    const dir = join(fresh(), "nested");
    const path = join(dir, "oauth_creds.json");
    await writeOAuthCredentials(path, sample);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
  });

  it("reads a 0644 file written by an older official CLI, leaving its mode", async () => {
    const dir = fresh();
    await mkdir(dir);
    const path = join(dir, "oauth_creds.json");
    await writeFile(path, JSON.stringify(sample, null, 2));
    await chmod(path, 0o644);
    const read = await readOAuthCredentials(path);
    assert.equal(read.kind, "ok");
    assert.equal((await stat(path)).mode & 0o777, 0o644);
  });

  it("writes 2-space JSON as the official CLI does and keeps unknown keys", async () => {
    const path = join(fresh(), "oauth_creds.json");
    const withExtra = { ...sample, id_token: "kept", nested: { a: 1 } };
    await writeOAuthCredentials(path, withExtra);
    const text = await readFile(path, "utf8");
    assert.equal(text, JSON.stringify(withExtra, null, 2));
    const read = await readOAuthCredentials(path);
    assert.equal(read.kind, "ok");
    if (read.kind !== "ok") return;
    assert.equal(read.credentials.id_token, "kept");
    assert.deepEqual(read.credentials.nested, { a: 1 });
  });

  it("reports a missing file as missing", async () => {
    const read = await readOAuthCredentials(join(fresh(), "oauth_creds.json"));
    assert.equal(read.kind, "missing");
  });

  const broken: [string, string, RegExp][] = [
    ["an empty file", "", /empty/],
    ["a file of blanks", "  \n", /empty/],
    ["a corrupted file", '{"access_token": "abc", ', /not valid JSON/],
    ["an HTML page", "<html>oops</html>", /not valid JSON/],
    ["a JSON array", "[1, 2]", /expected a JSON object/],
    ["a JSON string", '"token"', /expected a JSON object/],
    [
      "a file with wrong types",
      JSON.stringify({ ...sample, expiry_date: "tomorrow" }),
      /wrong "expiry_date"/,
    ],
    [
      "a file with a zero expiry",
      JSON.stringify({ ...sample, expiry_date: 0 }),
      /"expiry_date"/,
    ],
    [
      "a file with missing fields",
      JSON.stringify({ access_token: "a", expiry_date: 1 }),
      /missing "refresh_token", "token_type"/,
    ],
    [
      "a file with an empty access token",
      JSON.stringify({ ...sample, access_token: "" }),
      /missing "access_token"/,
    ],
  ];
  for (const [what, content, problem] of broken) {
    it(`reports ${what} as invalid, naming the file and the problem`, async () => {
      const dir = fresh();
      await mkdir(dir);
      const path = join(dir, "oauth_creds.json");
      await writeFile(path, content);
      const read = await readOAuthCredentials(path);
      assert.equal(read.kind, "invalid");
      if (read.kind !== "invalid") return;
      assert.equal(read.path, path);
      assert.match(read.problem, problem);
      assert.equal(await readFile(path, "utf8"), content, "the file is left as it was");
    });
  }

  it("never overwrites an invalid file when a token is asked for", async () => {
    const dir = fresh();
    await mkdir(dir);
    const path = join(dir, "oauth_creds.json");
    const content = JSON.stringify({ access_token: "a", token_type: "Bearer" });
    await writeFile(path, content);
    const source = new OAuthTokenSource({
      path,
      account: "default",
      oauthBaseUrl: "http://127.0.0.1:9", // Never reached: the file is refused first.
      fetch: () => Promise.reject(new Error("no network in this test")),
    });
    await assert.rejects(source.getToken(), (error: Error & { code?: string }) => {
      assert.equal(error.code, "invalid_credentials");
      assert.ok(error.message.includes(path), error.message);
      assert.match(error.message, /missing "refresh_token", "expiry_date"/);
      assert.match(error.message, /qwen auth/);
      return true;
    });
    assert.equal((await source.state()).state, "invalid");
    assert.equal(await readFile(path, "utf8"), content);
    assert.deepEqual(await readdir(dir), ["oauth_creds.json"]);
  });

  it("reports a directory in place of the file as unreadable", async () => {
    const dir = fresh();
    const path = join(dir, "oauth_creds.json");
    await mkdir(path, { recursive: true });
    const read = await readOAuthCredentials(path);
    assert.equal(read.kind, "unreadable");
  });
});
