/**
 * Reads an async source as fast as it produces, queueing items for a consumer that may be slower.
 *
 * The transports put this between the engine and a socket: an answer holds one of the engine's
 * in-flight slots until its generator finishes, so a client that stops reading would otherwise
 * hold that slot for as long as it stalls. Queued items are one answer's events, so the memory is
 * bounded by the answer. A consumer that stops early does not stop the source: abort its signal.
 */
export async function* eager<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const items: T[] = [];
  let ended = false;
  let failed = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  void (async () => {
    try {
      for await (const item of source) {
        items.push(item);
        wake?.();
      }
    } catch (err) {
      failed = true;
      failure = err;
    } finally {
      ended = true;
      wake?.();
    }
  })();
  for (;;) {
    const item = items.shift();
    if (item !== undefined) {
      yield item;
      continue;
    }
    if (ended) {
      if (failed) throw failure;
      return;
    }
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
    wake = undefined;
  }
}
