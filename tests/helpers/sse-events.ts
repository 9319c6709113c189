/** A server-sent event stream as tests read it: for the grammar checks of each API dialect. */

export interface SseEvent {
  event: string;
  data: Record<string, unknown>;
}

/** The events of an SSE body: `event:` name and parsed `data:` JSON. */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.split("\n\n")) {
    if (block.trim() === "") continue;
    let event = "";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    events.push({ event, data: JSON.parse(data.join("\n")) });
  }
  return events;
}
