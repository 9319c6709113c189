/**
 * `GET /v1/models`: the upstream's own list when it has one, cached for a few minutes since
 * editors ask for it on every start; otherwise a built-in list of the OAuth portal's models.
 */
import { z } from "zod";
import type { Fetch } from "../../cli/context.ts";
import type { UpstreamAuth } from "../../credentials/types.ts";
import { tokenErrorResponse, type UpstreamClient } from "../../upstream/client.ts";
import type { RouteContext } from "./context.ts";

export const BUILT_IN_MODELS = [
  "coder-model",
  "vision-model",
  "qwen3-coder-plus",
  "qwen3-coder-flash",
];

const modelListSchema = z.looseObject({
  data: z.array(z.looseObject({ id: z.string() })),
});

const LIST_TIMEOUT_MS = 15_000;

export interface ModelsCacheOptions {
  fetch: Fetch;
  now(): number;
  /** How long an upstream list is reused. */
  ttlMs: number;
  /** How long the built-in fallback is reused before the upstream is asked again. */
  fallbackTtlMs: number;
}

export class ModelsCache {
  private entry?: { baseUrl: string; token: string; body: string; expiresAt: number };

  constructor(private readonly options: ModelsCacheOptions) {}

  async list(auth: UpstreamAuth, client: UpstreamClient, userAgent: string | null) {
    const now = this.options.now();
    const cached = this.entry;
    if (
      cached !== undefined && cached.baseUrl === auth.baseUrl && cached.token === auth.token &&
      cached.expiresAt > now
    ) return cached.body;
    const upstream = await this.fetchUpstream(auth, client, userAgent);
    const body = upstream ?? builtInList();
    this.entry = {
      baseUrl: auth.baseUrl,
      token: auth.token,
      body,
      expiresAt: now + (upstream ? this.options.ttlMs : this.options.fallbackTtlMs),
    };
    return body;
  }

  private async fetchUpstream(
    auth: UpstreamAuth,
    client: UpstreamClient,
    userAgent: string | null,
  ): Promise<string | undefined> {
    try {
      const response = await this.options.fetch(`${auth.baseUrl}/models`, {
        headers: { ...client.headersFor(auth, userAgent), accept: "application/json" },
        signal: AbortSignal.timeout(LIST_TIMEOUT_MS),
      });
      const text = await response.text();
      if (!response.ok) return undefined;
      const parsed = modelListSchema.safeParse(JSON.parse(text));
      if (!parsed.success || parsed.data.data.length === 0) return undefined;
      return JSON.stringify({ object: "list", ...parsed.data });
    } catch {
      return undefined;
    }
  }
}

function builtInList(): string {
  return JSON.stringify({
    object: "list",
    data: BUILT_IN_MODELS.map((id) => ({ id, object: "model", created: 0, owned_by: "qwen" })),
  });
}

export async function listModels(ctx: RouteContext, cache: ModelsCache): Promise<Response> {
  let auth: UpstreamAuth;
  try {
    auth = await ctx.tokens.getToken({ signal: ctx.request.signal });
  } catch (error) {
    return tokenErrorResponse(error, ctx.request.signal);
  }
  const body = await cache.list(auth, ctx.client, ctx.request.headers.get("user-agent"));
  return new Response(body, { headers: { "content-type": "application/json" } });
}
