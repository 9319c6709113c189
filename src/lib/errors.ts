/** Exit codes shared by every command; the README documents this table. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notAuthenticated: 3,
  expired: 4,
  refused: 5,
  /** `qwen upgrade --check`: a newer release exists. */
  updateAvailable: 10,
  cancelled: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An expected failure: its message is shown to the person as is (no stack trace) and it maps
 * to one exit code for the CLI and, where it can reach an HTTP client, to one OpenAI-style body.
 */
export class QwenError extends Error {
  readonly exitCode: ExitCode;
  readonly status: number;
  readonly code: string;
  readonly type: string;

  constructor(
    message: string,
    options: {
      exitCode?: ExitCode;
      status?: number;
      code?: string;
      type?: string;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "QwenError";
    this.exitCode = options.exitCode ?? ExitCode.failure;
    this.status = options.status ?? 500;
    this.code = options.code ?? "qwen_error";
    this.type = options.type ?? "api_error";
  }
}

export class UsageError extends QwenError {
  constructor(message: string) {
    super(message, {
      exitCode: ExitCode.usage,
      status: 400,
      code: "usage",
      type: "invalid_request_error",
    });
    this.name = "UsageError";
  }
}

export class CancelledError extends QwenError {
  constructor(message = "Cancelled") {
    super(message, { exitCode: ExitCode.cancelled, code: "cancelled" });
    this.name = "CancelledError";
  }
}

const CREDENTIALS_ERRORS = {
  no_credentials: {
    status: 401,
    exitCode: ExitCode.notAuthenticated,
    type: "authentication_error",
  },
  needs_login: { status: 401, exitCode: ExitCode.notAuthenticated, type: "authentication_error" },
  invalid_credentials: { status: 500, exitCode: ExitCode.failure },
} as const;

/** An account that cannot give a token: the exit code and the status a client gets go with it. */
export function credentialsError(
  code: keyof typeof CREDENTIALS_ERRORS,
  message: string,
): QwenError {
  return new QwenError(message, { code, ...CREDENTIALS_ERRORS[code] });
}

/**
 * A short description of an unexpected error (a failed fetch, a file system error), for places
 * that must not print a stack: its message, its cause's, and a system code not already named.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : "";
  const text = `${error.message}${cause}`;
  const code = (error.cause as { code?: unknown } | undefined)?.code ??
    (error as { code?: unknown }).code;
  return typeof code === "string" && !text.includes(code) ? `${text} (${code})` : text;
}
