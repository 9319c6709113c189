/** What `qwen auth` was asked to do, and what tests may replace; shared by the auth flows. */
import type { PresetName } from "../../accounts/providers.ts";
import type { BrowserResult } from "../../terminal/browser.ts";

export interface AuthOptions {
  /** Always start a new device flow; with a provider, replace an unreadable key file. */
  force: boolean;
  /** `default` for `oauth_creds.json`, else NAME for `oauth_creds_<NAME>.json`. */
  account: string;
  logout: boolean;
  /** true: show the QR code, false: hide it, undefined: show it when stderr is a terminal. */
  qr?: boolean;
  /** false with `--no-browser`. */
  browser: boolean;
  /** Store an API key for this preset instead of the OAuth login. */
  provider?: PresetName;
  /** Normalized `--base-url`, overriding the preset's URL. */
  baseUrl?: string;
  /** false with `--no-verify`: no probe after storing a key. Default true. */
  verify?: boolean;
}

export interface AuthDeps {
  /** Opens the verification URL; the default launches the real browser (or explains why not). */
  openUrl?(url: string, options: AuthOptions): Promise<BrowserResult>;
  /** Reads a key without echo from the terminal; the default uses stdin in raw mode. */
  readSecret?(prompt: string): Promise<string>;
}
