import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readServerSentEvents, type ServerSentEvent } from '../../../src/client/http/sse-reader.js';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      controller.close();
    },
  });
}

async function collect(chunks: string[]): Promise<ServerSentEvent[]> {
  const out: ServerSentEvent[] = [];
  for await (const event of readServerSentEvents(streamOf(chunks))) out.push(event);
  return out;
}

describe('readServerSentEvents', () => {
  it('parses ids, event names, multi-line data and skips comments', async () => {
    const events = await collect([': hello\n\nid: 1\nevent: queued\ndata: {"a":1}\n\n', 'data: x\ndata: y\n\n']);
    expect(events).toEqual([
      { id: '1', event: 'queued', data: '{"a":1}' },
      { id: '1', event: 'message', data: 'x\ny' },
    ]);
  });

  it('accepts CRLF and CR line ends, split anywhere across chunks', async () => {
    const text = 'id: 7\r\nevent: log\r\ndata: one\r\n\r\nid: 8\revent: log\rdata: two\r\r';
    const expected = [
      { id: '7', event: 'log', data: 'one' },
      { id: '8', event: 'log', data: 'two' },
    ];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: text.length - 1 }), { maxLength: 8 }), async (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks: string[] = [];
        let start = 0;
        for (const p of points) {
          chunks.push(text.slice(start, p));
          start = p;
        }
        chunks.push(text.slice(start));
        expect(await collect(chunks)).toEqual(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('reports a bare id, which only moves the cursor', async () => {
    expect(await collect(['id: 1\ndata: a\n\nid: 9\n\n'])).toEqual([
      { id: '1', event: 'message', data: 'a' },
      { id: '9', event: '', data: '' },
    ]);
  });

  it('drops an event that the stream ends before dispatching', async () => {
    expect(await collect(['id: 1\ndata: complete\n\nid: 2\ndata: cut'])).toEqual([{ id: '1', event: 'message', data: 'complete' }]);
  });

  it('reports a retry: field at once, and ignores one that is not a number of ms', async () => {
    expect(await collect([': connected\n\nretry: 1500\nid: 3\ndata: a\n\nretry: soon\ndata: b\n\n'])).toEqual([
      { id: undefined, event: '', data: '', retry: 1500 },
      { id: '3', event: 'message', data: 'a' },
      { id: '3', event: 'message', data: 'b' },
    ]);
  });
});
