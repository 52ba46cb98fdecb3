import { errorFromResponse, NetworkError, parseRetryAfter, QuotaVaultError } from './errors';
import { parseQuotaHeaders, type QuotaSnapshot } from './quota';
import type {
  ApiKeyInfo,
  CachePurgeInput,
  CacheStats,
  CreateItemInput,
  CreateUserInput,
  DeadLetterFilter,
  DlqEntry,
  Item,
  ItemsPage,
  ListItemsParams,
  Overview,
  Plan,
  QuotaStatus,
  ReconciliationRow,
  ReplayAllInput,
  ReplayInput,
  ReplayResult,
  UpdatePlanInput,
  UpdateUserInput,
  UsagePage,
  UsageReportRow,
  User,
} from './types';

type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface RetryOptions {
  /** Attempts in all, the first included (default 4). */
  maxAttempts?: number;
  /** First backoff; doubles each attempt, with jitter (default 250 ms). */
  baseDelayMs?: number;
  /** Longest wait between attempts; a Retry-After beyond it is not waited for (default 10 s). */
  maxDelayMs?: number;
  /**
   * Also retry 429s (quota refusals and rate limits) after their Retry-After, when that fits in
   * `maxDelayMs`. Off by default: a refusal is news for the user, not a fault to hide.
   */
  retryTooManyRequests?: boolean;
}

export interface QuotaVaultClientOptions {
  /** Where the api-service is, e.g. `https://api.example.com` or `''` for the page's own origin. */
  baseUrl: string;
  /** An API key, or a function read before each request (keys kept in session storage). */
  apiKey?: string | (() => string | undefined);
  /** Defaults to the global fetch (browsers, Node ≥ 18). A seam for tests and instrumentation. */
  fetch?: FetchLike;
  /** Called with the quota snapshot of every answer that carries the `X-AI-Quota-*` headers. */
  onQuota?: (quota: QuotaSnapshot) => void;
  retry?: RetryOptions;
  /** Extra headers on every request. */
  headers?: Record<string, string>;
}

export interface CallOptions {
  signal?: AbortSignal;
}
export interface CreateItemOptions extends CallOptions {
  /** Defaults to a fresh `crypto.randomUUID()`; every retry of this call reuses it. */
  idempotencyKey?: string;
}
export interface CreateItemResult {
  item: Item;
  quota: QuotaStatus;
  /** The `X-AI-Quota-*` headers of the answer. */
  snapshot?: QuotaSnapshot;
  /** True when the server answered from an earlier request with the same key (nothing charged). */
  replayed: boolean;
  idempotencyKey: string;
}

interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /** Safe to send again: idempotent by method, or carrying an Idempotency-Key. */
  retrySafe: boolean;
  signal?: AbortSignal;
}

interface Answer<T> {
  status: number;
  body: T;
  headers: Headers;
  quota?: QuotaSnapshot;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

const enc = encodeURIComponent;

/**
 * A typed client of the Quota Vault public and admin API, for browsers and Node (global fetch
 * only). Every answer's `X-AI-Quota-*` headers land in `lastQuota` (and `onQuota`); every error is
 * a `QuotaVaultError` subclass; creates carry an Idempotency-Key and are retried under it.
 */
export class QuotaVaultClient {
  /** The quota snapshot of the latest answer that carried one. */
  lastQuota?: QuotaSnapshot;
  readonly admin: AdminApi;
  private readonly baseUrl: string;
  private readonly fetchImpl: FetchLike;
  private readonly retry: Required<RetryOptions>;

  constructor(private readonly options: QuotaVaultClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.retry = { maxAttempts: 4, baseDelayMs: 250, maxDelayMs: 10_000, retryTooManyRequests: false, ...options.retry };
    this.admin = new AdminApi(this);
  }

  // ---- public API ---------------------------------------------------------------------------

  /** `POST /v1/items`: charge, store, enqueue. Retried (same key) on 409 IN_USE, 503 and network errors. */
  async createItem(body: CreateItemInput, options: CreateItemOptions = {}): Promise<CreateItemResult> {
    const idempotencyKey = options.idempotencyKey ?? globalThis.crypto.randomUUID();
    const res = await this.request<{ item: Item; quota: QuotaStatus }>({
      method: 'POST',
      path: '/v1/items',
      body,
      headers: { 'Idempotency-Key': idempotencyKey },
      retrySafe: true,
      signal: options.signal,
    });
    return { ...res.body, snapshot: res.quota, replayed: res.headers.get('idempotent-replayed') === 'true', idempotencyKey };
  }

  async getItem(id: string, options: CallOptions = {}): Promise<Item> {
    return (await this.get<{ item: Item }>(`/v1/items/${enc(id)}`, undefined, options)).item;
  }

  async listItems(params: ListItemsParams = {}, options: CallOptions = {}): Promise<ItemsPage> {
    return this.get<ItemsPage>('/v1/items', { ...params }, options);
  }

  async getQuota(options: CallOptions = {}): Promise<QuotaStatus> {
    return this.get<QuotaStatus>('/v1/quota', undefined, options);
  }

  async listUsage(params: { cursor?: string; limit?: number } = {}, options: CallOptions = {}): Promise<UsagePage> {
    return this.get<UsagePage>('/v1/usage', { ...params }, options);
  }

  /** Polls `GET /v1/items/{id}` until the item is DONE or FAILED. */
  async waitForItem(id: string, { timeoutMs = 30_000, intervalMs = 250, signal }: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal } = {}): Promise<Item> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const item = await this.getItem(id, { signal });
      if (item.status === 'DONE' || item.status === 'FAILED') return item;
      if (Date.now() + intervalMs > deadline) throw new Error(`Item ${id} still ${item.status} after ${timeoutMs} ms`);
      await sleep(intervalMs, signal);
    }
  }

  // ---- transport ----------------------------------------------------------------------------

  /** @internal */
  get<T>(path: string, query?: RequestSpec['query'], options: CallOptions = {}): Promise<T> {
    return this.request<T>({ method: 'GET', path, query, retrySafe: true, signal: options.signal }).then((r) => r.body);
  }

  /** @internal One call, with the retries its kind allows. */
  async request<T>(spec: RequestSpec): Promise<Answer<T>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once<T>(spec);
      } catch (err) {
        const delay = this.retryDelay(err, spec, attempt);
        if (delay === undefined) throw err;
        await sleep(delay, spec.signal);
      }
    }
  }

  /** Milliseconds to wait before another attempt, or undefined when this error is final. */
  private retryDelay(err: unknown, spec: RequestSpec, attempt: number): number | undefined {
    if (!(err instanceof QuotaVaultError) || !spec.retrySafe || attempt >= this.retry.maxAttempts) return undefined;
    const retryable =
      err.code === 'NETWORK_ERROR' ||
      err.code === 'IDEMPOTENCY_KEY_IN_USE' ||
      err.status === 503 ||
      (err.status === 429 && this.retry.retryTooManyRequests);
    if (!retryable) return undefined;
    const backoff = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const jittered = backoff / 2 + Math.random() * (backoff / 2);
    if (err.retryAfterSeconds === undefined) return jittered;
    const asked = err.retryAfterSeconds * 1000;
    if (asked > this.retry.maxDelayMs) return undefined; // the server says: not soon; tell the caller.
    return Math.max(asked, err.status === 429 ? 0 : jittered);
  }

  private async once<T>(spec: RequestSpec): Promise<Answer<T>> {
    const url = new URL(this.baseUrl + spec.path, /^https?:/i.test(this.baseUrl) ? undefined : (globalThis as { location?: { href: string } }).location?.href);
    for (const [name, value] of Object.entries(spec.query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
    const key = typeof this.options.apiKey === 'function' ? this.options.apiKey() : this.options.apiKey;
    const headers: Record<string, string> = { Accept: 'application/json', ...this.options.headers, ...spec.headers };
    if (key) headers.Authorization = `Bearer ${key}`;
    if (spec.body !== undefined) headers['Content-Type'] = 'application/json';

    let res: Response;
    try {
      res = await this.fetchImpl(url.toString(), {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal: spec.signal,
      });
    } catch (cause) {
      if (spec.signal?.aborted) throw cause;
      throw new NetworkError({ code: 'NETWORK_ERROR', status: 0, message: `Could not reach ${url.origin}: ${(cause as Error)?.message ?? cause}`, cause });
    }

    const quota = parseQuotaHeaders(res.headers);
    if (quota) {
      this.lastQuota = quota;
      this.options.onQuota?.(quota);
    }
    const text = await res.text();
    let body: unknown = undefined;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!res.ok) throw errorFromResponse(res.status, body, res.headers, quota);
    return { status: res.status, body: body as T, headers: res.headers, quota };
  }
}

/** The admin API (an admin key): users and keys, plans, dead letters, cache, ledger. */
export class AdminApi {
  constructor(private readonly client: QuotaVaultClient) {}

  private send<T>(method: RequestSpec['method'], path: string, body?: unknown, options: CallOptions = {}): Promise<T> {
    // PUT, PATCH and DELETE are idempotent here; POSTs are not retried (no key to dedupe them).
    return this.client.request<T>({ method, path, body, retrySafe: method !== 'POST', signal: options.signal }).then((r) => r.body);
  }

  createUser(body: CreateUserInput, options?: CallOptions): Promise<{ user: User; apiKey: string }> {
    return this.send('POST', '/admin/users', body, options);
  }
  /** `GET /admin/users?email=`: the user with this email, if any (emails are unique). */
  async findUsers(params: { email: string }, options?: CallOptions): Promise<User[]> {
    return (await this.client.get<{ users: User[] }>('/admin/users', { ...params }, options)).users;
  }
  async getUser(id: string, options?: CallOptions): Promise<User> {
    return (await this.client.get<{ user: User }>(`/admin/users/${enc(id)}`, undefined, options)).user;
  }
  async updateUser(id: string, body: UpdateUserInput, options?: CallOptions): Promise<User> {
    return (await this.send<{ user: User }>('PATCH', `/admin/users/${enc(id)}`, body, options)).user;
  }
  async listApiKeys(userId: string, options?: CallOptions): Promise<ApiKeyInfo[]> {
    return (await this.client.get<{ keys: ApiKeyInfo[] }>(`/admin/users/${enc(userId)}/keys`, undefined, options)).keys;
  }
  createApiKey(userId: string, options?: CallOptions): Promise<{ key: ApiKeyInfo; apiKey: string }> {
    return this.send('POST', `/admin/users/${enc(userId)}/keys`, undefined, options);
  }
  async revokeApiKey(userId: string, keyId: string, options?: CallOptions): Promise<void> {
    await this.send('DELETE', `/admin/users/${enc(userId)}/keys/${enc(keyId)}`, undefined, options);
  }
  async listPlans(options?: CallOptions): Promise<Plan[]> {
    return (await this.client.get<{ plans: Plan[] }>('/admin/plans', undefined, options)).plans;
  }
  async updatePlan(id: string, body: UpdatePlanInput, options?: CallOptions): Promise<Plan> {
    return (await this.send<{ plan: Plan }>('PUT', `/admin/plans/${enc(id)}`, body, options)).plan;
  }
  async listDeadLetters(filter: DeadLetterFilter = {}, options?: CallOptions): Promise<DlqEntry[]> {
    return (await this.client.get<{ jobs: DlqEntry[] }>('/admin/dlq', { ...filter }, options)).jobs;
  }
  async getDeadLetter(jobId: string, options?: CallOptions): Promise<DlqEntry> {
    return (await this.client.get<{ job: DlqEntry }>(`/admin/dlq/${enc(jobId)}`, undefined, options)).job;
  }
  replayDeadLetter(jobId: string, body: ReplayInput = {}, options?: CallOptions): Promise<ReplayResult> {
    return this.send('POST', `/admin/dlq/${enc(jobId)}/replay`, body, options);
  }
  /** At most 1,000 per call; `more`: others match, call again. */
  replayDeadLetters(body: ReplayAllInput = {}, options?: CallOptions): Promise<{ replayed: ReplayResult[]; failed: Array<{ jobId: string; error: string }>; more: boolean }> {
    return this.send('POST', '/admin/dlq/replay', body, options);
  }
  async discardDeadLetter(jobId: string, options?: CallOptions): Promise<void> {
    await this.send('DELETE', `/admin/dlq/${enc(jobId)}`, undefined, options);
  }
  getCacheStats(options?: CallOptions): Promise<CacheStats> {
    return this.client.get('/admin/cache/stats', undefined, options);
  }
  purgeCache(body: CachePurgeInput = {}, options?: CallOptions): Promise<{ purged: number }> {
    return this.send('POST', '/admin/cache/purge', body, options);
  }
  /** At most `limit` user-days (default 1,000); the drift summed over all that match; `drifting` keeps the drifting ones alone. */
  getReconciliation(params: { userId?: string; since?: string; drifting?: boolean; limit?: number } = {}, options?: CallOptions): Promise<{ rows: ReconciliationRow[]; totalDrift: number; truncated: boolean }> {
    return this.client.get('/admin/reconciliation', { ...params }, options);
  }
  /** Queue depths, and this replica's answers to POST /v1/items by status (a rate is two readings apart). */
  getOverview(options?: CallOptions): Promise<Overview> {
    return this.client.get('/admin/overview', undefined, options);
  }
  getUsageReport(params: { since?: string } = {}, options?: CallOptions): Promise<{ rows: UsageReportRow[] }> {
    return this.client.get('/admin/reports/usage', { ...params }, options);
  }
}
