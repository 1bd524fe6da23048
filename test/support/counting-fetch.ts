/** A fetch that counts the bytes a client reads from event streams (routes ending in `/events`), for tests and benches of what a client reads. */
export function countingFetch(): { readonly fetch: typeof fetch; readonly streamed: () => number } {
  let streamed = 0;
  const counting: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.includes('/events') || response.body === null) return response;
    const counted = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          streamed += chunk.byteLength;
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return { fetch: counting, streamed: () => streamed };
}
