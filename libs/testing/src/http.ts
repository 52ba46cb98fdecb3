import type { CreateUserResponse, LimitOverrides } from '@qv/contracts';

/** A small JSON-over-HTTP client for tests that speak to the api-service as a frontend would. */
export interface HttpResult<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
}

export async function http<T = unknown>(method: string, url: string, options: { key?: string; body?: unknown; headers?: Record<string, string>; raw?: string } = {}): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  if (options.body !== undefined || options.raw !== undefined) headers['content-type'] ??= 'application/json';
  const response = await fetch(url, { method, headers, body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)) });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

/** Creates a user through the admin API and returns its id and key. */
export async function createUser(api: string, adminKey: string, plan: string, overrides?: LimitOverrides): Promise<{ id: string; key: string }> {
  const res = await http<CreateUserResponse>('POST', `${api}/admin/users`, { key: adminKey, body: { plan, ...(overrides ? { overrides } : {}) } });
  if (res.status !== 201) throw new Error(`create user failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { id: res.body.user.id, key: res.body.apiKey };
}
