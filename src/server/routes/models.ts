/**
 * `GET /v1/models`: the models of the account that would serve a request now. The upstream's
 * own list when it has one (non-chat models such as speech, embeddings, images and video left
 * out), plus the account's aliases (`coder-model`, `vision-model`); a built-in list otherwise.
 * Cached per account for a few minutes, since editors ask on every start.
 */
import type { UpstreamAuth } from "../../credentials/types.ts";
import { readAtMost } from "../../lib/bytes.ts";
import type { Fetch } from "../../lib/context.ts";
import { z } from "../../lib/zod.ts";
import type { Member } from "../../pool/pool.ts";
import { clientGone } from "../../upstream/client.ts";
import { tokenFailure, unavailableFailure } from "../../upstream/failure.ts";
import { authHeaders } from "../../upstream/headers.ts";
import { failureResponse } from "../responses.ts";
import type { RouteContext } from "./context.ts";

const BUILT_IN_MODELS = [
  "coder-model",
  "vision-model",
  "qwen3-coder-plus",
  "qwen3-coder-flash",
];

/**
 * Model ids that are not chat models: speech (asr, tts, realtime voices), embeddings and
 * rerankers, image and video generation. `qwen3-vl-plus` (vision chat) and `qwen-omni-turbo`
 * stay.
 */
const NON_CHAT_MODEL =
  /(^|[-_/.])(asr|tts|embed|embedding|embeddings|rerank|realtime|paraformer|sensevoice|cosyvoice|sambert|audio|speech|transcribe|whisper|image|images|wanx|wan2|t2i|t2v|i2v|i2i|kf2v|s2v|video|flux|stable-diffusion|moderation|livetranslate)($|[-_/.\d])/i;

function isChatModel(id: string): boolean {
  return !NON_CHAT_MODEL.test(id) && !/^text-embedding/i.test(id);
}

const modelListSchema = z.looseObject({
  data: z.array(z.looseObject({ id: z.string() })),
});

const LIST_TIMEOUT_MS = 15_000;

const decoder = new TextDecoder();

interface ModelsCacheOptions {
  fetch: Fetch;
  now(): number;
  /** Our own User-Agent (OAuth calls carry it). */
  userAgent: string;
  /** How long an upstream list is reused. */
  ttlMs: number;
  /** How long the built-in fallback is reused before the upstream is asked again. */
  fallbackTtlMs: number;
  /** A longer list is not read to its end, and the built-in one is served (`--max-response`). */
  maxBytes: number;
}

export class ModelsCache {
  private readonly entries = new Map<
    string,
    { baseUrl: string; token: string; body: string; expiresAt: number }
  >();

  constructor(private readonly options: ModelsCacheOptions) {}

  async list(
    member: Member,
    auth: UpstreamAuth,
    userAgent: string | null,
  ): Promise<string> {
    const now = this.options.now();
    const cached = this.entries.get(member.name);
    if (
      cached !== undefined && cached.baseUrl === auth.baseUrl && cached.token === auth.token &&
      cached.expiresAt > now
    ) return cached.body;
    const upstream = await this.fetchUpstream(auth, userAgent);
    const body = JSON.stringify({
      object: "list",
      data: withAliases(upstream ?? builtIn(member, auth), member),
    });
    this.entries.set(member.name, {
      baseUrl: auth.baseUrl,
      token: auth.token,
      body,
      expiresAt: now + (upstream ? this.options.ttlMs : this.options.fallbackTtlMs),
    });
    return body;
  }

  private async fetchUpstream(
    auth: UpstreamAuth,
    userAgent: string | null,
  ): Promise<Record<string, unknown>[] | undefined> {
    try {
      const response = await this.options.fetch(`${auth.baseUrl}/models`, {
        headers: {
          ...authHeaders(auth, this.options.userAgent, userAgent),
          accept: "application/json",
        },
        signal: AbortSignal.timeout(LIST_TIMEOUT_MS),
      });
      if (!response.ok || response.body === null) {
        await response.body?.cancel();
        return undefined;
      }
      const { bytes, over } = await readAtMost(response.body, this.options.maxBytes);
      if (over) return undefined;
      const parsed = modelListSchema.safeParse(JSON.parse(decoder.decode(bytes)));
      if (!parsed.success) return undefined;
      const chat = parsed.data.data.filter((m) => isChatModel(m.id));
      return chat.length === 0 ? undefined : chat;
    } catch {
      return undefined;
    }
  }
}

function model(id: string): Record<string, unknown> {
  return { id, object: "model", created: 0, owned_by: "qwen" };
}

function builtIn(member: Member, auth: UpstreamAuth): Record<string, unknown>[] {
  if (auth.kind === "oauth") return BUILT_IN_MODELS.map(model);
  return [...new Set(member.models.values())].map(model);
}

/** The account's aliases (`coder-model` → its real model) after the real ones, once each. */
function withAliases(
  list: Record<string, unknown>[],
  member: Member,
): Record<string, unknown>[] {
  const ids = new Set(list.map((m) => m.id));
  const out = [...list];
  for (const alias of member.models.keys()) {
    if (!ids.has(alias)) {
      ids.add(alias);
      out.push(model(alias));
    }
  }
  return out;
}

export async function listModels(ctx: RouteContext, cache: ModelsCache): Promise<Response> {
  const member = ctx.pool.candidates()[0];
  if (member === undefined) {
    return failureResponse(unavailableFailure(ctx.pool.verdict(), ctx.now()));
  }
  // A token refresh behind a busy lock may take a while: rare enough to lift it up front.
  ctx.connection.disableIdleTimeout();
  let auth: UpstreamAuth;
  try {
    auth = await member.source.getToken({ signal: ctx.request.signal });
  } catch (error) {
    return ctx.request.signal.aborted ? clientGone() : failureResponse(tokenFailure(error));
  }
  ctx.report.account = member.name;
  const body = await cache.list(member, auth, ctx.request.headers.get("user-agent"));
  return new Response(body, { headers: { "content-type": "application/json" } });
}
