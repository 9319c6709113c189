/**
 * Reads one line from the terminal without echoing it (for API keys): stdin in raw mode, nothing
 * written back, not even asterisks. Enter ends the line; Backspace deletes; Ctrl+C cancels;
 * Ctrl+D on an empty line ends it empty. Escape sequences (arrow keys, bracketed paste marks)
 * are ignored.
 */
import process from "node:process";
import { CancelledError } from "../lib/errors.ts";

interface HiddenPromptIO {
  /** Writes the prompt (stderr). */
  write(text: string): void;
  setRawMode(on: boolean): void;
  /** Defaults to process.stdin. */
  input?: InputStream;
  signal?: AbortSignal;
}

/** The part of a readable stream the prompt uses. */
interface InputStream {
  on(event: "data", listener: (chunk: Uint8Array | string) => void): unknown;
  on(event: "end", listener: () => void): unknown;
  off(event: "data", listener: (chunk: Uint8Array | string) => void): unknown;
  off(event: "end", listener: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

export function readHiddenLine(prompt: string, io: HiddenPromptIO): Promise<string> {
  const input: InputStream = io.input ?? (process.stdin as unknown as InputStream);
  io.write(prompt);
  io.setRawMode(true);
  return new Promise<string>((resolve, reject) => {
    let line = "";
    let escape = false;
    const decoder = new TextDecoder();
    const finish = (error?: Error) => {
      input.off("data", onData);
      input.off("end", onEnd);
      io.signal?.removeEventListener("abort", onAbort);
      io.setRawMode(false);
      input.pause();
      io.write("\n");
      if (error) reject(error);
      else resolve(line);
    };
    const onAbort = () => finish(new CancelledError());
    const onEnd = () => finish();
    const onData = (chunk: Uint8Array | string) => {
      const text = typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
      for (const char of text) {
        if (escape) {
          // CSI sequences end with a letter or "~"; a lone ESC + char ends at that char.
          if (/[A-Za-z~]/.test(char)) escape = false;
          continue;
        }
        switch (char) {
          case "\r":
          case "\n":
            return finish();
          case "\x03":
            return finish(new CancelledError());
          case "\x04":
            if (line === "") return finish();
            continue;
          case "\x7f":
          case "\b":
            line = line.slice(0, -1);
            continue;
          case "\x15": // Ctrl+U: clear the line.
            line = "";
            continue;
          case "\x1b":
            escape = true;
            continue;
        }
        if (char >= " ") line += char;
      }
    };
    if (io.signal?.aborted) return onAbort();
    io.signal?.addEventListener("abort", onAbort, { once: true });
    input.on("data", onData);
    input.on("end", onEnd);
    input.resume();
  });
}
