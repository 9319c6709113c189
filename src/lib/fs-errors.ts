/**
 * A file system error in words that stay the same from one try to the next: the runtimes'
 * messages (`EISDIR: illegal operation on a directory, rename '/h/.f.<uuid>.tmp' -> '/h/f'`)
 * without the quoted paths, which may name a random temporary file. A loop that says a failure
 * only when it changes compares these.
 */
export function fsErrorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/ '[^']*'(?: -> '[^']*')?/g, "");
}
