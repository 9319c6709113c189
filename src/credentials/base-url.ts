/** Where the model API of an OAuth account lives when the token answer names no host. */
const DEFAULT_MODEL_API_BASE = "https://dashscope.aliyuncs.com/compatible-mode/v1";

/**
 * The model API base implied by a token answer's `resource_url` (docs/upstream.md#model-api):
 * no scheme → `https://`; not ending in `/v1` → `/v1` appended; an explicit `http://` is kept
 * (tests point at loopback that way); absent or blank → the DashScope default. The result has
 * no trailing slash.
 */
export function baseUrlFromResourceUrl(resourceUrl?: string): string {
  const trimmed = resourceUrl?.trim() ?? "";
  if (trimmed === "") return DEFAULT_MODEL_API_BASE;
  let url = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  url = url.replace(/\/+$/, "");
  if (!url.endsWith("/v1")) url += "/v1";
  return url;
}
