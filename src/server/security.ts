/**
 * The checks every request passes before it reaches a route (issue "Security"):
 * - on a loopback bind, a `Host` that is not ours means DNS rebinding: a page on some domain
 *   that now resolves to 127.0.0.1 is talking to us, so 403;
 * - an `Origin` not listed with `--cors-origin` is a browser page of another site, so 403;
 * - with API keys configured, `/v1` needs one of them, compared in constant time.
 */

/** The lists may be replaced while serving (a reload): the guard takes them at the next request. */
export interface SecurityOptions {
  apiKeys: readonly string[];
  corsOrigins: readonly string[];
  /** Extra `Host` names (e.g. for a reverse proxy); with a port they must match exactly. */
  allowHosts: readonly string[];
  /** Whether the server is bound to a loopback address: only then is `Host` checked. */
  loopback: boolean;
  /** The bound port once known (it is chosen at listen time with `--port 0`). */
  port(): number | undefined;
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);

export class Guard {
  private readonly encoder = new TextEncoder();
  /** Each list as given, and what it was turned into: remade when the list is replaced. */
  #keys = new Derived((keys: readonly string[]) => keys.map((key) => this.encoder.encode(key)));
  #origins = new Derived((origins: readonly string[]) => new Set(origins.map(normalizeOrigin)));
  #extraHosts = new Derived((hosts: readonly string[]) =>
    new Set(hosts.map((h) => h.trim().toLowerCase()))
  );

  constructor(private readonly options: SecurityOptions) {}

  hostAllowed(host: string | null): boolean {
    // Browsers always send Host; a client without one is not a page being rebound.
    if (!this.options.loopback || host === null) return true;
    const value = host.toLowerCase();
    const extraHosts = this.#extraHosts.of(this.options.allowHosts);
    if (extraHosts.has(value)) return true;
    const { name, port } = splitHost(value);
    if (extraHosts.has(name)) return true;
    if (!LOOPBACK_NAMES.has(name)) return false;
    const bound = this.options.port();
    if (bound === undefined) return true;
    return port === undefined ? bound === 80 : port === String(bound);
  }

  /** Whether an `Origin` may call us (and get CORS headers). */
  originAllowed(origin: string): boolean {
    return this.#origins.of(this.options.corsOrigins).has(normalizeOrigin(origin));
  }

  apiKeyAllowed(request: Request): boolean {
    const keys = this.#keys.of(this.options.apiKeys);
    if (keys.length === 0) return true;
    const candidate = presentedKey(request);
    if (candidate === undefined) return false;
    const bytes = this.encoder.encode(candidate);
    // Every key is compared in full, whatever matched, so timing tells nothing about the keys.
    let matched = 0;
    for (const key of keys) matched |= constantTimeEqual(bytes, key) ? 1 : 0;
    return matched === 1;
  }
}

/** A value made from a list, made again only when the list is another one. */
class Derived<T> {
  #list?: readonly string[];
  #value?: T;

  constructor(private readonly make: (list: readonly string[]) => T) {}

  of(list: readonly string[]): T {
    if (list !== this.#list) {
      this.#value = this.make(list);
      this.#list = list;
    }
    return this.#value!;
  }
}

function presentedKey(request: Request): string | undefined {
  const authorization = request.headers.get("authorization");
  if (authorization !== null) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match) return match[1].trim();
  }
  return request.headers.get("x-api-key")?.trim() ?? undefined;
}

/**
 * Compares a presented secret with a known one in time that depends only on the known one's
 * length (the caller's own length it already knows).
 */
export function constantTimeEqual(presented: Uint8Array, known: Uint8Array): boolean {
  let diff = presented.length ^ known.length;
  for (let i = 0; i < known.length; i++) {
    diff |= known[i] ^ (presented[i] ?? 0);
  }
  return diff === 0;
}

function splitHost(host: string): { name: string; port?: string } {
  if (host.startsWith("[")) {
    const end = host.indexOf("]");
    if (end === -1) return { name: host };
    const rest = host.slice(end + 1);
    return { name: host.slice(0, end + 1), port: rest.startsWith(":") ? rest.slice(1) : undefined };
  }
  const colon = host.lastIndexOf(":");
  if (colon === -1) return { name: host };
  return { name: host.slice(0, colon), port: host.slice(colon + 1) };
}

function normalizeOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, "");
}
