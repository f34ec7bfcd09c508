import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, errorText } from "./api";

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

export interface FieldErrors {
  errors: Record<string, string>;
  error(path: string): string | undefined;
  clear(): void;
  set(errors: Record<string, string>): void;
  take(caught: unknown): number;
}

// The API's messages by field, for a form: an ApiError's problems (the answer's "errors"), each by
// its path without the request's key (prefix, e.g. "settings."). take(caught) keeps them and says
// how many there were: 0 when the error is not about fields (the form says what went wrong).
export function useFieldErrors(prefix: string): FieldErrors {
  const [errors, setErrors] = useState<Record<string, string>>({});
  const take = (caught: unknown): number => {
    if (!(caught instanceof ApiError) || !caught.problems.length) return 0;
    const path = (p: string) => (p.startsWith(prefix) ? p.slice(prefix.length) : p);
    setErrors(Object.fromEntries(caught.problems.map((p) => [path(p.path), p.message])));
    return caught.problems.length;
  };
  return { errors, error: (path) => errors[path], clear: () => setErrors({}), set: setErrors, take };
}
