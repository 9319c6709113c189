/**
 * `GET /health`, for monitors and service managers. It answers from the credentials file alone
 * (no network) and says nothing that identifies the account: no token, path or name.
 */
import type { AccountState, TokenSource } from "../../credentials/types.ts";

const REASONS: Record<Exclude<AccountState, "valid" | "expired">, string> = {
  missing: "no credentials: run qwen auth",
  invalid: "credentials file unusable: run qwen status",
  needs_login: "login no longer valid: run qwen auth",
};

export async function health(tokens: TokenSource, draining: boolean): Promise<Response> {
  if (draining) return unavailable("shutting down");
  let state: AccountState;
  try {
    state = (await tokens.state()).state;
  } catch {
    return unavailable("credentials cannot be read");
  }
  // An expired access token with a refresh token is still usable: the next request refreshes it.
  if (state === "valid" || state === "expired") {
    return new Response('{"status":"ok"}', { headers: { "content-type": "application/json" } });
  }
  return unavailable(REASONS[state]);
}

function unavailable(reason: string): Response {
  return new Response(JSON.stringify({ status: "unavailable", reason }), {
    status: 503,
    headers: { "content-type": "application/json", "cache-control": "no-store" },
  });
}
