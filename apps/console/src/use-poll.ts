import { useCallback, useEffect, useRef, useState } from 'react';

export interface Polled<T> {
  data?: T;
  error?: unknown;
  /** Loads now (and resets the interval). */
  refresh: () => Promise<void>;
}

/**
 * Loads `load()` now and every `intervalMs` (0: only on refresh), one load at a time; a change of
 * `deps` starts over. The page is live by polling: the API has no push channel.
 */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number, deps: unknown[] = []): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<unknown>();
  const loadRef = useRef(load);
  loadRef.current = load;
  const inFlight = useRef<Promise<void> | undefined>(undefined);

  const refresh = useCallback(() => {
    inFlight.current ??= loadRef
      .current()
      .then((value) => {
        setData(value);
        setError(undefined);
      })
      .catch((err: unknown) => setError(err))
      .finally(() => {
        inFlight.current = undefined;
      });
    return inFlight.current;
  }, []);

  useEffect(() => {
    void refresh();
    if (!intervalMs) return;
    const timer = setInterval(() => void refresh(), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs, refresh, ...deps]);

  return { data, error, refresh };
}
