/**
 * The OpenAI Responses API's streaming event grammar, checked: what a translated stream must obey
 * whatever order the upstream's deltas came in (docs/responses.md#streaming).
 */
import assert from "node:assert/strict";

import type { SseEvent } from "./sse-events.ts";

export { parseSse, type SseEvent } from "./sse-events.ts";

type Fields = Record<string, unknown>;

/** Per item type: its events, and where the accumulated text lives in the whole item. */
const ITEM_EVENTS: Record<string, { delta: string; done: string; field?: string }> = {
  message: { delta: "response.output_text.delta", done: "response.output_text.done" },
  reasoning: {
    delta: "response.reasoning_summary_text.delta",
    done: "response.reasoning_summary_text.done",
  },
  function_call: {
    delta: "response.function_call_arguments.delta",
    done: "response.function_call_arguments.done",
    field: "arguments",
  },
  custom_tool_call: {
    delta: "response.custom_tool_call_input.delta",
    done: "response.custom_tool_call_input.done",
    field: "input",
  },
};

const TERMINAL: Record<string, string> = {
  "response.completed": "completed",
  "response.incomplete": "incomplete",
  "response.failed": "failed",
};

interface OpenItem {
  index: number;
  added: Fields;
  /** The text the deltas built: of the open part, or a call's arguments/input. */
  text: string;
  /** The message's or reasoning's one part: open, closed, or not yet added. */
  part: "none" | "open" | "closed";
  /** A call's `.done` came. */
  doneText: boolean;
}

/**
 * Fails unless the events follow the grammar: `sequence_number` 0, 1, 2…; `response.created`
 * then `response.in_progress` (status in_progress, no output); items added at `output_index`
 * 0, 1, 2… one at a time, each added empty and in progress; a message's `content_part`
 * (`content_index` 0) or a reasoning's summary part (`summary_index` 0) added, its text deltas,
 * its text done, the part done; a call's arguments (or input) deltas then done; every delta
 * inside its open item and part, with the item's id; each `.done` repeating what the deltas
 * built; the item done with its whole content and a final status; then exactly one terminal
 * event, last: `response.completed` or `response.incomplete` with every item done and the output
 * exactly the items streamed, or `response.failed` with an error (an item may be left open).
 */
export function assertGrammar(events: readonly SseEvent[]): void {
  assert.ok(events.length >= 3, "the stream has fewer than three events");
  events.forEach(({ event, data }, i) => {
    assert.equal(data.type, event, `the event name "${event}" differs from its data's type`);
    assert.equal(data.sequence_number, i, `event ${i} (${event}): sequence_number`);
  });
  for (const [i, type] of [[0, "response.created"], [1, "response.in_progress"]] as const) {
    assert.equal(events[i].event, type, `event ${i} is not ${type}`);
    const response = events[i].data.response as Fields;
    assert.equal(response.status, "in_progress", `${type}: status`);
    assert.deepEqual(response.output, [], `${type}: output`);
  }
  const id = (events[0].data.response as Fields).id;
  const done: Fields[] = [];
  let open: OpenItem | undefined;
  for (let i = 2; i < events.length; i++) {
    const { event, data } = events[i];
    const where = `event ${i} (${event})`;
    if (event in TERMINAL) {
      assert.equal(i, events.length - 1, `${where}: events after the terminal event`);
      const response = data.response as Fields;
      assert.equal(response.id, id, `${where}: the response id changed`);
      assert.equal(response.status, TERMINAL[event], `${where}: status`);
      if (event === "response.failed") {
        assert.ok(isObject(response.error), `${where}: no error`);
        assert.equal(typeof response.error.message, "string");
        assert.equal(typeof response.error.code, "string");
        const output = response.output as Fields[];
        const streamed = open === undefined
          ? done
          : [...done, wholeItem(open, output[done.length]?.status)];
        assert.deepEqual(output, streamed, `${where}: the output is not the items streamed`);
      } else {
        assert.equal(open, undefined, `${where}: item ${open?.index} is still open`);
        assert.equal(response.error, null, `${where}: error`);
        assert.deepEqual(response.output, done, `${where}: the output is not the items streamed`);
      }
      if (event === "response.incomplete") {
        assert.ok(isObject(response.incomplete_details), `${where}: no incomplete_details`);
      } else assert.equal(response.incomplete_details, null, `${where}: incomplete_details`);
      return;
    }
    if (event === "response.output_item.added") {
      assert.equal(open, undefined, `${where}: item ${open?.index} is still open`);
      assert.equal(data.output_index, done.length, `${where}: expected index ${done.length}`);
      const item = data.item as Fields;
      assert.ok((item.type as string) in ITEM_EVENTS, `${where}: unknown item "${item.type}"`);
      assert.match(item.id as string, /^(msg|rs|fc|ctc)_\w+$/, `${where}: item id`);
      assert.equal(item.status, "in_progress", `${where}: status`);
      if (item.type === "message") assert.deepEqual(item.content, [], `${where}: content`);
      if (item.type === "reasoning") assert.deepEqual(item.summary, [], `${where}: summary`);
      const field = ITEM_EVENTS[item.type as string].field;
      if (field !== undefined) assert.equal(item[field], "", `${where}: ${field}`);
      open = { index: done.length, added: item, text: "", part: "none", doneText: false };
      continue;
    }
    assert.ok(open !== undefined, `${where}: no item is open`);
    assert.equal(data.output_index, open.index, `${where}: not the open item's index`);
    const type = open.added.type as string;
    const { delta, done: textDone, field } = ITEM_EVENTS[type];
    if (event === "response.output_item.done") {
      const item = data.item as Fields;
      assert.ok(field === undefined ? open.part === "closed" : open.doneText, `${where}: early`);
      assert.notEqual(item.status, "in_progress", `${where}: status`);
      assert.deepEqual(item, wholeItem(open, item.status), `${where}: not the item streamed`);
      done.push(item);
      open = undefined;
      continue;
    }
    assert.equal(data.item_id, open.added.id, `${where}: not the open item's id`);
    const partEvent = type === "message"
      ? "response.content_part"
      : "response.reasoning_summary_part";
    const indexField = type === "message" ? "content_index" : "summary_index";
    if (field === undefined) assert.equal(data[indexField], 0, `${where}: ${indexField}`);
    if (field === undefined && event === `${partEvent}.added`) {
      assert.equal(open.part, "none", `${where}: a second part`);
      assert.deepEqual(data.part, part(type, ""), `${where}: the part is not empty`);
      open.part = "open";
    } else if (event === delta) {
      if (field === undefined) assert.equal(open.part, "open", `${where}: no part is open`);
      else assert.equal(open.doneText, false, `${where}: after ${textDone}`);
      assert.equal(typeof data.delta, "string");
      open.text += data.delta as string;
    } else if (event === textDone) {
      const name = field ?? "text";
      if (field === undefined) assert.equal(open.part, "open", `${where}: no part is open`);
      else assert.equal(open.doneText, false, `${where}: a second ${textDone}`);
      assert.equal(data[name], open.text, `${where}: ${name} is not what the deltas built`);
      open.doneText = true;
    } else if (field === undefined && event === `${partEvent}.done`) {
      assert.equal(open.part, "open", `${where}: no part is open`);
      assert.equal(open.doneText, true, `${where}: before ${textDone}`);
      assert.deepEqual(data.part, part(type, open.text), `${where}: not the part streamed`);
      open.part = "closed";
    } else {
      assert.fail(`${where}: not an event of a ${type} item`);
    }
  }
  assert.fail("the stream ended without response.completed, response.incomplete or failed");
}

function part(type: string, text: string): Fields {
  return type === "message"
    ? { type: "output_text", text, annotations: [], logprobs: [] }
    : { type: "summary_text", text };
}

/** The item its added form and its deltas make, with the status it ended with. */
function wholeItem(open: OpenItem, status: unknown): Fields {
  const type = open.added.type as string;
  const item: Fields = { ...open.added, status };
  if (type === "message") item.content = [part(type, open.text)];
  else if (type === "reasoning") item.summary = [part(type, open.text)];
  else item[ITEM_EVENTS[type].field!] = open.text;
  return item;
}

/**
 * The output a client folds from the deltas alone (the `.done` events' repeats ignored), with
 * each item's final status: what `assertGrammar` checked the terminal response against.
 */
export function assembleOutput(events: readonly SseEvent[]): Fields[] {
  const output: Fields[] = [];
  let open: OpenItem | undefined;
  for (const { event, data } of events) {
    if (event === "response.output_item.added") {
      open = {
        index: output.length,
        added: data.item as Fields,
        text: "",
        part: "none",
        doneText: false,
      };
    } else if (open !== undefined && event === ITEM_EVENTS[open.added.type as string].delta) {
      open.text += data.delta as string;
    } else if (open !== undefined && event === "response.output_item.done") {
      output.push(wholeItem(open, (data.item as Fields).status));
      open = undefined;
    }
  }
  return output;
}

function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
