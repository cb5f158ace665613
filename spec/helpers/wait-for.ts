/** Resolves when `predicate` holds, checking on every macrotask turn; rejects after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Resolves when the async `probe` says true, trying again every `intervalMs`; rejects after `timeoutMs`. */
export async function waitUntil(probe: () => Promise<boolean>, timeoutMs = 5000, what = 'condition', intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Resolves with the first emission of `event`, or rejects after `timeoutMs`. */
export function nextEvent<T = unknown>(emitter: NodeJS.EventEmitter, event: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`Timed out after ${timeoutMs} ms waiting for '${event}'`));
    }, timeoutMs);
    const listener = (value: T): void => {
      clearTimeout(timer);
      resolve(value);
    };
    emitter.once(event, listener);
  });
}
