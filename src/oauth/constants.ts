/** Public OAuth client of the official Qwen Code CLI (no secret): docs/upstream.md#oauth-device-flow. */
export const QWEN_OAUTH_CLIENT_ID = "f0304373b74a44d2b584a3fb70ca9e56";
export const QWEN_OAUTH_SCOPE = "openid profile email model.completion";
const DEFAULT_OAUTH_BASE_URL = "https://chat.qwen.ai";
export const DEVICE_CODE_PATH = "/api/v1/oauth2/device/code";
export const TOKEN_PATH = "/api/v1/oauth2/token";
export const DEVICE_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code";

export function oauthBaseUrl(env: Readonly<Record<string, string | undefined>>): string {
  const value = env.QWEN_OAUTH_BASE_URL?.trim();
  return (value ? value : DEFAULT_OAUTH_BASE_URL).replace(/\/+$/, "");
}
