import { useCallback, useEffect, useRef, useState } from "react";
import { errorText } from "./api";

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  errorObject: unknown;
  loading: boolean;
  reload(): Promise<void>;
}

// Loads data on mount (and when deps change); reload() loads again.
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const latest = useRef(0);
  const run = useCallback(load, deps);
  const reload = useCallback(async () => {
    const call = ++latest.current;
    setLoading(true);
    try {
      const value = await run();
      if (call === latest.current) {
        setData(value);
        setError(null);
      }
    } catch (caught) {
      if (call === latest.current) setError(caught);
    } finally {
      if (call === latest.current) setLoading(false);
    }
  }, [run]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error: error === null ? null : errorText(error), errorObject: error, loading, reload };
}

// Calls tick every `ms` while `active`.
export function useInterval(tick: () => void, ms: number, active: boolean): void {
  const saved = useRef(tick);
  saved.current = tick;
  useEffect(() => {
    if (!active) return;
    const id = window.setInterval(() => saved.current(), ms);
    return () => window.clearInterval(id);
  }, [ms, active]);
}
