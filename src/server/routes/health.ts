/**
 * `GET /health`, for monitors and service managers: ok while some account of the pool can take
 * requests. It answers from memory and the credentials files alone (no network) and says nothing
 * that identifies an account: no token, path or name.
 */
import type { AccountState } from "../../credentials/types.ts";
import type { AccountPool } from "../../pool/pool.ts";

const REASONS: Record<Exclude<AccountState, "valid" | "expired">, string> = {
  missing: "no credentials: run qwen auth",
  invalid: "credentials file unusable: run qwen status",
  needs_login: "login no longer valid: run qwen auth",
};

export async function health(pool: AccountPool, draining: boolean, now: number): Promise<Response> {
  if (draining) return unavailable("shutting down");
  if (pool.size === 0) return unavailable(REASONS.missing);
  let first: Exclude<AccountState, "valid" | "expired"> | undefined;
  let unreadable = false;
  let cooling = false;
  for (const member of pool.members) {
    if (!member.available(now)) {
      if (member.health.state === "cooling_down") cooling = true;
      continue;
    }
    let state: AccountState;
    try {
      state = (await member.source.state()).state;
    } catch {
      unreadable = true;
      continue;
    }
    // An expired access token with a refresh token is still usable: the next request refreshes it.
    if (state === "valid" || state === "expired") {
      return new Response('{"status":"ok"}', { headers: { "content-type": "application/json" } });
    }
    first ??= state;
  }
  if (first !== undefined) return unavailable(REASONS[first]);
  if (unreadable) return unavailable("credentials cannot be read: run qwen status");
  if (cooling) {
    return unavailable("every account is cooling down after a quota answer: run qwen status");
  }
  return unavailable("every account was refused by the upstream: run qwen status --probe");
}

function unavailable(reason: string): Response {
  return new Response(JSON.stringify({ status: "unavailable", reason }), {
    status: 503,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
