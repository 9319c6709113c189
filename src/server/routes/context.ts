import type { AccountPool } from "../../pool/pool.ts";
import type { CallReport, ClientConnection, UpstreamClient } from "../../upstream/client.ts";
import type { RequestLogEntry } from "../log.ts";

/** What a route gets for one request. */
export interface RouteContext {
  request: Request;
  /** The request's path, as the router saw it. */
  path: string;
  /** Its query string with the `?`, or empty. */
  search: string;
  entry: RequestLogEntry;
  report: CallReport;
  client: UpstreamClient;
  pool: AccountPool;
  maxBodyBytes: number;
  now(): number;
  /** Its `disableIdleTimeout()` lets this request wait past the server's idle timeout (Bun closes quiet sockets). */
  connection: ClientConnection;
}
