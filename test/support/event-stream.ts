/** What {@link readEventStream} read. */
export interface EventStreamText {
  readonly status: number;
  /** The raw `text/event-stream` text, every frame read. */
  readonly text: string;
}

/**
 * Reads an SSE route and answers what it sent: until nothing more arrives for `idleMs` (the
 * history is sent at once, then the stream waits for new events), or until `withinMs` have
 * passed, whichever comes first. Then it closes the connection; no timer is left behind.
 */
export async function readEventStream(
  url: string,
  options: { readonly headers?: Readonly<Record<string, string>>; readonly idleMs?: number; readonly withinMs?: number } = {},
): Promise<EventStreamText> {
  const { headers = {}, idleMs = Infinity, withinMs = Infinity } = options;
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const deadline = Date.now() + withinMs;
  let text = '';
  try {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const quiet = new Promise<'quiet'>((resolve) => (timer = setTimeout(() => resolve('quiet'), Math.max(0, Math.min(idleMs, deadline - Date.now())))));
      const next = await Promise.race([reader.read(), quiet]);
      clearTimeout(timer);
      if (next === 'quiet' || next.done) break;
      text += next.value;
    }
  } finally {
    controller.abort();
  }
  return { status: response.status, text };
}
