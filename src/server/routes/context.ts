import type { AccountPool } from "../../pool/pool.ts";
import type {
  CallReport,
  ClientConnection,
  ForwardRequest,
  UpstreamClient,
} from "../../upstream/client.ts";
import type { CallFailure } from "../../upstream/failure.ts";
import type { Logger, RequestLogEntry } from "../log.ts";
import type { KeepAlive } from "../../upstream/stream/keep-alive.ts";
import type { BodyDeadline } from "../body.ts";

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
  logger: Logger;
  maxBodyBytes: number;
  /** The largest upstream answer read whole, `--max-response`. */
  maxResponseBytes: number;
  /** How long the request body may take to arrive. */
  bodyDeadline: BodyDeadline;
  /** Sends translated streams their keep-alives while the upstream is silent. */
  keepAlive: KeepAlive;
  now(): number;
  /** Its `disableIdleTimeout()` lets this request wait past the server's idle timeout (Bun closes quiet sockets). */
  connection: ClientConnection;
}

/**
 * A call in another API dialect: what to send upstream (as a chat completion), and how to
 * render the upstream's answer or the failure in the client's dialect.
 */
export interface DialectCall {
  forward: ForwardRequest;
  answer(response: Response): Promise<Response>;
  failure(failure: CallFailure): Response;
}
