import { Agent } from 'undici';

/** The part of `fetch`'s signature the official SDKs call. */
export type SdkFetch = (url: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * A `fetch` for the official SDKs over undici's `request` on a keep-alive agent. Node's global
 * `fetch` (WHATWG streams, a Request object, signal following) cost the enrichment worker ~1 ms of
 * CPU per LLM call beyond the SDK's own work, more than the rest of the call's HTTP did; this
 * reads the answer whole and hands the SDK a `Response` built from it (the provider never streams).
 * Anything it does not handle (a `Request` object, a body other than a string) goes to the global
 * `fetch`. The SDK's error classes are unchanged: an abort rejects with the signal's reason, as the
 * global fetch does (the SDK aborts its own controller: an `AbortError`, its `APIUserAbortError` /
 * `APIConnectionTimeoutError`), a refused connection a socket error the SDK
 * wraps as `APIConnectionError` (libs/llm's simulator tests hold both).
 */
export function pooledFetch(agent: Agent = new Agent({ keepAliveTimeout: 30_000 })): SdkFetch {
  return async (input, init = {}) => {
    if (input instanceof Request || (init.body !== undefined && init.body !== null && typeof init.body !== 'string')) return fetch(input, init);
    const url = new URL(String(input));
    const answer = await agent.request({
      origin: url.origin,
      path: url.pathname + url.search,
      method: (init.method ?? 'GET') as 'GET',
      headers: headersOf(init.headers),
      body: init.body ?? undefined,
      signal: init.signal ?? undefined,
    });
    const text = await answer.body.text();
    const headers = new Headers();
    for (const [name, value] of Object.entries(answer.headers)) {
      if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      else if (value !== undefined) headers.set(name, value);
    }
    // A Response may not carry a body with these statuses.
    const bodyless = answer.statusCode === 204 || answer.statusCode === 205 || answer.statusCode === 304;
    return new Response(bodyless ? null : text, { status: answer.statusCode, headers });
  };
}

function headersOf(headers: RequestInit['headers']): Record<string, string> {
  if (!headers) return {};
  if (headers instanceof Headers) return Object.fromEntries(headers.entries());
  if (Array.isArray(headers)) return Object.fromEntries(headers);
  return headers as Record<string, string>;
}
