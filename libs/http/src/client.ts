import { AppError, ErrorBody } from '@qv/contracts';
import { Agent, request } from 'undici';
import type { z } from 'zod';
import { outgoingCredential } from './service-auth';

/** Raised when the other service did not answer (down, refused, timed out). */
export class UnreachableError extends Error {
  constructor(readonly service: string, cause: unknown) {
    super(`${service} did not answer: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'UnreachableError';
  }
}

/**
 * The other service refused this service's own credential (401/403): a deployment fault (token
 * unset, wrong or rotated on one side only), never the end user's. An UnreachableError, so each
 * caller's fail-open or fail-closed policy treats it as the service being unavailable, rather than
 * passing a 401 on to a user whose API key is fine.
 */
export class CredentialRefusedError extends UnreachableError {
  constructor(service: string, readonly status: number, code: string, message: string) {
    super(service, new Error(`refused this service's credential: ${status} ${code}: ${message}`));
    this.name = 'CredentialRefusedError';
  }
}

export interface InternalClientOptions {
  service: string;
  baseUrl: string;
  timeoutMs: number;
  /** Sockets kept open per origin. */
  connections?: number;
  /** This service's credential (libs/http service-auth), sent as `Authorization: Bearer` (the first of a `new,old` list). */
  credential?: string;
}

/**
 * JSON over HTTP between services: keep-alive sockets, a timeout on every call, the answer parsed
 * with the contract's schema. A non-2xx answer in the shared error shape is rethrown as that AppError.
 */
export class InternalClient {
  private readonly agent: Agent;
  private readonly headers: Record<string, string>;
  private readonly jsonHeaders: Record<string, string>;

  constructor(private readonly options: InternalClientOptions) {
    this.agent = new Agent({ connections: options.connections ?? 128, keepAliveTimeout: 30_000, pipelining: 1 });
    const credential = outgoingCredential(options.credential);
    this.headers = credential ? { authorization: `Bearer ${credential}` } : {};
    this.jsonHeaders = { ...this.headers, 'content-type': 'application/json' };
  }

  async call<S extends z.ZodType>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, schema: S, body?: unknown): Promise<z.infer<S>> {
    // The whole call, connect to last byte, within timeoutMs. A timer cleared when the answer is in,
    // not AbortSignal.timeout: that one fires timeoutMs later for every call, answered or not (an
    // AbortError built and dispatched each time, ~2 % of api-service's CPU on the chat path).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.options.timeoutMs);
    let response;
    let json: unknown;
    try {
      try {
        response = await request(this.options.baseUrl + path, {
          method,
          dispatcher: this.agent,
          headers: body === undefined ? this.headers : this.jsonHeaders,
          body: body === undefined ? undefined : JSON.stringify(body),
          headersTimeout: this.options.timeoutMs,
          bodyTimeout: this.options.timeoutMs,
          signal: deadline.signal,
        });
        json = await response.body.json();
      } catch (err) {
        throw new UnreachableError(this.options.service, err);
      }
    } finally {
      clearTimeout(timer);
    }
    if (response.statusCode >= 200 && response.statusCode < 300) return schema.parse(json);
    const parsed = ErrorBody.safeParse(json);
    if (parsed.success) {
      const { code, message, details, retryAfterSeconds } = parsed.data.error;
      if (code === 'UNAUTHENTICATED' || code === 'FORBIDDEN') throw new CredentialRefusedError(this.options.service, response.statusCode, code, message);
      throw new AppError(code, message, { details, retryAfterSeconds });
    }
    throw new UnreachableError(this.options.service, new Error(`status ${response.statusCode}`));
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
