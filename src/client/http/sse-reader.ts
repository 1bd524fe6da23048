/** One Server-Sent Event. @internal */
export interface ServerSentEvent {
  /** The `id:` of the event, when it had one (the stream's resumable cursor). */
  readonly id: string | undefined;
  /** The `event:` name (`message` when absent; `''` for a bare `id:` that only moves the cursor). */
  readonly event: string;
  readonly data: string;
  /**
   * A `retry:` field's reconnection delay, ms: it takes effect at once, so it comes as a
   * message of its own (`event: ''`, no `id`), before the event it was part of.
   */
  readonly retry?: number;
}

/**
 * Parses a `text/event-stream` body as the HTML standard says (lines end in LF, CRLF or CR;
 * a blank line dispatches; `:` starts a comment; one space after the colon is dropped;
 * `retry:` sets the reconnection delay), with only web-standard APIs so it runs in browsers
 * too (native `EventSource` cannot send an Authorization header, so the client reads the
 * stream with fetch).
 *
 * Not `eventsource-parser`: it reports only events with data, and forgets a blank-line
 * dispatch with an `id:` and no data, which the protocol sends at the start of every stream
 * (the cursor the stream starts after) and at a shutdown (the cursor to resume from); an
 * `EventSource` takes both as its last event id, and so must this client.
 * @internal
 */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const reader = body.pipeThrough(new TextDecoderStream() as unknown as ReadableWritablePair<string, Uint8Array>).getReader();
  let buffer = '';
  let id: string | undefined;
  let event = '';
  let data: string[] = [];
  let sawId = false;
  let sawCr = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += value;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer.charCodeAt(i);
        if (c !== 10 && c !== 13) continue;
        // A CR LF pair is one line end: skip the LF that follows a CR.
        if (c === 10 && sawCr && i === start) {
          sawCr = false;
          start = i + 1;
          continue;
        }
        sawCr = c === 13;
        const line = buffer.slice(start, i);
        start = i + 1;
        if (line === '') {
          if (data.length > 0) yield { id, event: event || 'message', data: data.join('\n') };
          // A bare `id:` (a server's last word before it closes) moves the cursor and nothing else.
          else if (sawId) yield { id, event: '', data: '' };
          event = '';
          data = [];
          sawId = false;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let fieldValue = colon < 0 ? '' : line.slice(colon + 1);
        if (fieldValue.startsWith(' ')) fieldValue = fieldValue.slice(1);
        if (field === 'data') data.push(fieldValue);
        else if (field === 'event') event = fieldValue;
        else if (field === 'retry' && /^[0-9]+$/.test(fieldValue)) yield { id: undefined, event: '', data: '', retry: Number(fieldValue) };
        else if (field === 'id' && !fieldValue.includes('\0')) {
          id = fieldValue;
          sawId = true;
        }
      }
      buffer = buffer.slice(start);
      if (sawCr && buffer.length > 0) sawCr = false;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
