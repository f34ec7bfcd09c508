// Calls to the admin API at this origin, with the session token.
import type { Session } from "./session";

export interface Problem {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: Record<string, unknown>,
  ) {
    super(message);
  }

  get problems(): Problem[] {
    const errors = this.body.errors;
    return Array.isArray(errors) ? (errors as Problem[]) : [];
  }
}

export class Api {
  constructor(private readonly session: Session) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const token = await this.session.token();
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = { error: text };
    }
    if (!response.ok) {
      const message = typeof parsed.error === "string" ? parsed.error : `${method} ${path}: HTTP ${response.status}`;
      throw new ApiError(response.status, message, parsed);
    }
    return parsed as T;
  }

  // A text answer (a CSV download), with the same credentials.
  async csv(path: string): Promise<string> {
    const token = await this.session.token();
    const response = await fetch(path, { headers: { Authorization: `Bearer ${token}`, Accept: "text/csv" } });
    const text = await response.text();
    if (!response.ok) throw new ApiError(response.status, `GET ${path}: HTTP ${response.status}`, {});
    return text;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>("POST", path, body ?? {});
  }

  put<T>(path: string, body?: unknown): Promise<T> {
    return this.call<T>("PUT", path, body ?? {});
  }

  delete<T>(path: string): Promise<T> {
    return this.call<T>("DELETE", path);
  }
}

export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
