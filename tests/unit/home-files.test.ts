/**
 * The files of QWEN_HOME as the disk and other users may leave them (issue 17, items 11 to 15):
 * symlinked credentials, a shared home folder, temporary files left by a killed write, a key
 * file too big to re-read every few seconds, a state file that cannot be written.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { listAccounts } from "../../src/accounts/account.ts";
import { readApiKeyFile } from "../../src/accounts/api-key-store.ts";
import { writeFileAtomic } from "../../src/credentials/atomic-write.ts";
import { homeFolderWarning } from "../../src/credentials/home-folder.ts";
import {
  type OAuthCredentials,
  readOAuthCredentials,
  writeOAuthCredentials,
} from "../../src/credentials/store.ts";
import { STATE_FILE, StateStore } from "../../src/pool/state-file.ts";
import { keyFileJson, type TempHomes, tempHomes } from "../helpers/temp-homes.ts";

const sample: OAuthCredentials = {
  access_token: "access-sample",
  refresh_token: "refresh-sample",
  token_type: "Bearer",
  resource_url: "portal.qwen.ai",
  expiry_date: 1_900_000_000_000,
};
const OFFLINE = {
  oauthBaseUrl: "http://127.0.0.1:9",
  fetch: () => Promise.reject(new Error("offline")),
};
const modeOf = async (path: string) => (await stat(path)).mode & 0o7777;

describe("files in QWEN_HOME", () => {
  let homes: TempHomes;
  before(async () => {
    homes = await tempHomes();
  });
  after(async () => {
    await homes.cleanup();
  });

  /** A home with `oauth_creds.json` linking to a 0644 file elsewhere. */
  async function linkedCredentials(content: string) {
    const home = await homes.fresh();
    const elsewhere = await homes.fresh();
    const target = join(elsewhere, "shared-creds.json");
    await writeFile(target, content);
    await chmod(target, 0o644);
    const link = join(home, "oauth_creds.json");
    await symlink(target, link);
    return { home, target, link };
  }

  describe("reading changes no mode", () => {
    it("reads credentials through a symlink and leaves its target's mode alone", async () => {
      const { target, link } = await linkedCredentials(JSON.stringify(sample));
      const read = await readOAuthCredentials(link);
      assert.equal(read.kind, "ok");
      assert.equal(await modeOf(target), 0o644);
    });

    it("reads a 0644 file as it is; the next write replaces it with a 0600 file", async () => {
      const home = await homes.fresh();
      const path = join(home, "oauth_creds.json");
      await writeFile(path, JSON.stringify(sample));
      await chmod(path, 0o644);
      assert.equal((await readOAuthCredentials(path)).kind, "ok");
      assert.equal(await modeOf(path), 0o644);
      await writeOAuthCredentials(path, sample);
      assert.equal(await modeOf(path), 0o600);
    });

    it("reads a key file through a symlink and leaves its target's mode alone", async () => {
      const { home, target } = await linkedCredentials(JSON.stringify(keyFileJson()));
      const link = join(home, "qwen_key_work.json");
      await symlink(target, link);
      assert.equal((await readApiKeyFile(link)).kind, "ok");
      assert.equal(await modeOf(target), 0o644);
    });

    it("replaces a symlink with a regular file on write and leaves its target alone", async () => {
      const content = JSON.stringify({ ...sample, access_token: "the-old-one" });
      const { target, link } = await linkedCredentials(content);
      await writeOAuthCredentials(link, sample);
      const info = await lstat(link);
      assert.ok(info.isFile(), "a regular file in place of the link");
      assert.equal(info.mode & 0o777, 0o600);
      assert.equal(await readFile(target, "utf8"), content);
      assert.equal(await modeOf(target), 0o644);
    });
  });

  describe("the home folder", () => {
    it("creates a missing home with mode 0700", async () => {
      const home = join(homes.next(), "deeper");
      await writeFileAtomic(join(home, "oauth_creds.json"), "{}");
      assert.equal(await modeOf(home), 0o700);
    });

    for (const mode of [0o1777, 0o755, 0o750]) {
      it(`leaves the mode of an existing ${mode.toString(8)} home alone`, async () => {
        const home = await homes.fresh();
        await chmod(home, mode);
        await writeFileAtomic(join(home, "oauth_creds.json"), "{}");
        assert.equal(await modeOf(home), mode);
        assert.equal(await modeOf(join(home, "oauth_creds.json")), 0o600);
      });
    }

    it("warns about a home that others can write to without the sticky bit", async () => {
      const home = await homes.fresh();
      const cases: [number, boolean][] = [[0o777, true], [0o770, true], [0o1777, false], [
        0o755,
        false,
      ]];
      for (const [mode, warns] of cases) {
        await chmod(home, mode);
        const warning = await homeFolderWarning(home);
        if (!warns) {
          assert.equal(warning, undefined, mode.toString(8));
          continue;
        }
        assert.ok(warning?.includes(`"${home}"`), String(warning));
        assert.match(warning!, /other users/);
        assert.match(warning!, /chmod 700/);
      }
      assert.equal(await homeFolderWarning(homes.next()), undefined, "a missing home");
    });
  });

  describe("temporary files", () => {
    const uuid = () => crypto.randomUUID();

    it("removes its own temporary files older than a minute on the next write", async () => {
      const home = await homes.fresh();
      const old = new Date(Date.now() - 120_000);
      const stale = [
        `.oauth_creds.json.${uuid()}.tmp`,
        `.qwen_key_work.json.${uuid()}.tmp`,
        `.${STATE_FILE}.${uuid()}.tmp`,
      ];
      const kept = [
        `.oauth_creds_other.json.${uuid()}.tmp`, // a write in progress: recent
        ".oauth_creds.json.tmp", // not our pattern
        `.notes.txt.${uuid()}.tmp`, // not one of our files
        "backup.tmp",
      ];
      for (const name of [...stale, ...kept]) await writeFile(join(home, name), "secret");
      for (const name of [...stale, ...kept.slice(1)]) await utimes(join(home, name), old, old);
      await writeOAuthCredentials(join(home, "oauth_creds.json"), sample);
      assert.deepEqual(
        (await readdir(home)).sort(),
        ["oauth_creds.json", ...kept].sort(),
      );
    });

    it("creates the temporary file with mode 0600 and leaves none behind", async () => {
      const home = await homes.fresh();
      const path = join(home, "qwen_key_work.json");
      await writeFileAtomic(path, "{}");
      assert.equal(await modeOf(path), 0o600);
      assert.deepEqual(await readdir(home), ["qwen_key_work.json"]);
    });
  });

  describe("re-reading only what changed", () => {
    it("lists a key file again without reading it while its identity stays", async () => {
      const home = await homes.fresh();
      const path = join(home, "qwen_key_big.json");
      const valid = JSON.stringify(keyFileJson());
      // Invalid, and the same size as the valid content, so that only a read tells them apart.
      await writeFile(path, "x".repeat(valid.length), { mode: 0o600 });
      const at = new Date("2026-05-01T12:00:00Z");
      await utimes(path, at, at);
      const providerOf = async () =>
        (await listAccounts(home, {}, OFFLINE)).find((a) => a.name === "big")?.provider;
      assert.equal(await providerOf(), undefined);

      // Same inode, size and mtime: a listing must not read it again.
      await writeFile(path, valid);
      await utimes(path, at, at);
      assert.equal(await providerOf(), undefined, "read again although unchanged");

      const later = new Date("2026-05-01T12:00:05Z");
      await utimes(path, later, later);
      assert.equal(await providerOf(), "dashscope", "a change is read");
    });
  });

  describe("the state file", () => {
    it("fails a write that keeps failing with the same message, naming no temporary file", async () => {
      const home = await homes.fresh();
      await mkdir(join(home, STATE_FILE)); // A directory in its place: every rename fails.
      const store = new StateStore(home);
      const messages: string[] = [];
      for (let i = 0; i < 2; i++) {
        store.day("work").requests++;
        await assert.rejects(store.sync(), (error: Error) => {
          messages.push(error.message);
          return true;
        });
      }
      assert.equal(messages[0], messages[1]);
      assert.ok(messages[0].includes(join(home, STATE_FILE)), messages[0]);
      assert.doesNotMatch(messages[0], /\.tmp/);
      assert.equal(store.day("work").requests, 2, "the counts are kept for the next try");
    });
  });
});
