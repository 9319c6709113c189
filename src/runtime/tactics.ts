/**
 * Per-runtime tactics of the request path, each a narrow export that the one module needing it
 * imports by name; docs/performance.md has the measurements that keep them.
 */
const onDeno = "Deno" in globalThis;

/**
 * A header set built once and sent many times, in the form this runtime's fetch copies fastest:
 * Bun copies a Headers object natively, Deno reads a record faster than it iterates Headers.
 */
export const fetchHeaderForm: (headers: Record<string, string>) => HeadersInit = onDeno
  ? (headers) => headers
  : (headers) => new Headers(headers);

/**
 * Whether a request body is scanned faster as the string it decodes to than as bytes: on Deno,
 * V8 searches a string with vector instructions where its byte search goes one by one.
 */
export const scanAsText: boolean = onDeno;
