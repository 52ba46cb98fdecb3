import type { CacheStats, CreateItemResponse, CreateUserResponse, ErrorBody, ItemResponse, Overview, PlansResponse, QuotaStatus, ReconciliationResponse, UserResponse, UsersResponse } from '@qv/contracts';
import { createUser, eventually, http, presets, startStack, waitForItem, type Stack } from '@qv/testing';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/**
 * The web console (apps/console, served by api-service at /console/) in Debian's Chromium, driven
 * by playwright-core, against the real stack: what a user and an operator see and do (issue 16).
 * Each scenario leaves a screenshot in .run/console/.
 */
const CHROMIUM = '/usr/bin/chromium';

// The page's globals, for the functions that run inside Chromium (this project compiles without the DOM lib).
declare const document: { querySelector(s: string): { getAttribute(n: string): string | null; textContent: string | null } | null; querySelectorAll(s: string): ArrayLike<{ textContent: string | null }>; cookie: string };
declare const sessionStorage: Record<string, string> & { length: number };
declare const localStorage: { length: number };
const SHOTS = join(__dirname, '..', '.run', 'console');

describe('web console in Chromium', () => {
  let stack: Stack;
  let browser: BrowserContext;
  let userDataDir: string;
  const run = Date.now().toString(36);
  /** Console errors and CSP violations of every page: none is expected. */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      // scripts/bootstrap.mjs installs it for `npm test`; here it could not (or jest ran directly).
      throw new Error(`Chromium is not installed at ${CHROMIUM}: run \`apt-get update && apt-get install -y chromium\` as root (npm test does so when it can)`);
    }
    mkdirSync(SHOTS, { recursive: true });
    // One item's failures must reach the dead-letter queue, not open the provider's circuit.
    stack = await startStack(presets.quickRetries, presets.circuitStaysClosed);
    userDataDir = mkdtempSync(join(tmpdir(), 'qv-console-chromium-'));
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
      viewport: { width: 1280, height: 900 },
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });

  /** A new tab (its own sessionStorage) signed into one view with `key`. */
  async function signedIn(view: 'user' | 'operator', key: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('console', (msg) => {
      // A refused call (401, 403, 429) is logged by Chromium as a failed resource: that is the scenario, not a fault.
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) pageErrors.push(`${view}: ${msg.text()}`);
    });
    page.on('pageerror', (err) => pageErrors.push(`${view}: ${err.message}`));
    await page.goto(`${stack.api}/console/#${view}`);
    await page.fill('input[name=apiKey]', key);
    await page.click('button:has-text("Sign in")');
    await page.waitForSelector(view === 'user' ? '[data-testid=usage-enrichmentsPerDay]' : 'nav.tabs');
    return page;
  }

  /** Fills the create form (only the given tasks ticked) and submits it. */
  async function fillItem(page: Page, content: string, tasks: Array<'summarize' | 'tag' | 'extract'>): Promise<void> {
    await page.fill('textarea[name=content]', content);
    for (const task of ['summarize', 'tag', 'extract'] as const) await page.setChecked(`input[name=task-${task}]`, tasks.includes(task));
  }

  /** Creates one item from the form and returns its id, once the page shows it accepted. */
  async function createItem(page: Page, content: string, tasks: Array<'summarize' | 'tag' | 'extract'>): Promise<string> {
    const before = await page.getAttribute('[data-testid=last-created]', 'data-item-id').catch(() => null);
    await fillItem(page, content, tasks);
    await page.click('button:has-text("Create")');
    const handle = await page.waitForFunction(
      (prev) => {
        const id = document.querySelector('[data-testid=last-created]')?.getAttribute('data-item-id');
        return id && id !== prev ? id : undefined;
      },
      before,
      { timeout: 15_000 },
    );
    return (await handle.jsonValue()) as string;
  }

  const itemRow = (id: string, status: string) => `[data-testid=item][data-item-id="${id}"][data-status=${status}]`;
  const text = async (page: Page, selector: string) => ((await page.textContent(selector)) ?? '').replace(/\s+/g, ' ').trim();
  const shoot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

  it('typechecks (its build strips the types without checking them)', () => {
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(__dirname, '..', 'apps', 'console', 'tsconfig.json'), '--noEmit'], { encoding: 'utf8' });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);
  }, 60_000);

  it('is served at /console/ with a CSP that allows no inline script, and keeps the key in sessionStorage only', async () => {
    const res = await fetch(`${stack.api}/console/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const html = await res.text();
    expect(html.match(/<script\b[^>]*>/g)?.every((tag) => /\ssrc="\/console\/assets\/[^"]+\.js"/.test(tag))).toBe(true);
    expect(html).not.toMatch(/<script\b[^>]*>[^<]+<\/script>/);
    expect((await fetch(`${stack.api}/console`, { redirect: 'manual' })).status).toBe(301);

    const user = await createUser(stack.api, stack.adminKey, 'free');
    const page = await signedIn('user', user.key);
    const stored = await page.evaluate(() => ({ session: { ...sessionStorage }, local: localStorage.length, cookie: document.cookie }));
    expect(stored).toEqual({ session: { 'qv.console.user.apiKey': user.key }, local: 0, cookie: '' });
    // A wrong key is refused and not kept.
    const other = await browser.newPage();
    await other.goto(`${stack.api}/console/#operator`);
    await other.fill('input[name=apiKey]', user.key);
    await other.click('button:has-text("Sign in")');
    expect(await text(other, '[role=alert]')).toBe('You are not allowed to do that.');
    expect(await other.evaluate(() => sessionStorage.length)).toBe(0);
    await Promise.all([page.close(), other.close()]);
  }, 60_000);

  it('free user: 50 items go to DONE, the 51st shows the daily-limit message with a countdown and the indicator reads 50/50', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'free');
    const page = await signedIn('user', user.key);
    const started = Date.now();
    for (let i = 0; i < 50; i++) {
      const id = await createItem(page, `note ${i} about budgets and ${run}`, ['tag']);
      // Free plan: 3 in flight at most, so each is let finish (and seen finishing) before the next.
      await page.waitForSelector(itemRow(id, 'DONE'), { timeout: 30_000 });
    }
    console.log(`50 items created and seen DONE through the console in ${Date.now() - started} ms`);
    await fillItem(page, `one too many ${run}`, ['tag']);
    await page.click('button:has-text("Create")');
    await page.waitForSelector('[data-testid=refusal][data-code=DAILY_QUOTA_EXCEEDED]');
    expect(await text(page, '.refusal-message')).toBe("You've reached your daily limit.");
    expect(await text(page, '[data-testid=countdown]')).toMatch(/^Try again in (\d+h \d\dm \d\ds|\d+m \d\ds|\d+s)$/);
    // It counts down: the text changes within a few seconds.
    const shown = await text(page, '[data-testid=countdown]');
    await page.waitForFunction((prev) => document.querySelector('[data-testid=countdown]')?.textContent !== prev, shown, { timeout: 5000 });
    await page.waitForFunction(() => document.querySelector('[data-testid=usage-enrichmentsPerDay]')?.textContent?.includes('50/50 enrichments today'));
    expect(await page.getAttribute('[data-testid=usage-enrichmentsPerDay]', 'data-level')).toBe('exceeded');
    expect(await text(page, '[data-testid=usage-level]')).toBe('exceeded');
    // The ledger shows the user's entries a page (10) at a time.
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=ledger-row]').length === 10);
    const tags = await text(page, `[data-testid=item] dd`);
    expect(tags.length).toBeGreaterThan(0);
    await shoot(page, 'daily-limit');
    expect((await stack.db.query<{ n: string }>('SELECT count(*)::text AS n FROM items WHERE user_id = $1', [user.id]))[0].n).toBe('50');
    await page.close();
  }, 240_000);

  it('three slow items are seen ENRICHING; the fourth shows the concurrency message', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'free');
    const page = await signedIn('user', user.key);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await createItem(page, `slow ${i} ${run} [sim:latency_ms=12000]`, ['tag']));
    await fillItem(page, `fourth ${run}`, ['tag']);
    await page.click('button:has-text("Create")');
    await page.waitForSelector('[data-testid=refusal][data-code=CONCURRENCY_LIMIT_EXCEEDED]');
    expect(await text(page, '.refusal-message')).toBe('Too many items processing.');
    expect(await text(page, '[data-testid=countdown]')).toMatch(/^Try again in \d+s$|^You can try again now\.$/);
    await page.waitForFunction(() => document.querySelector('[data-testid=usage-concurrentJobs]')?.textContent?.includes('3/3 jobs in flight'));
    expect(await page.getAttribute('[data-testid=usage-concurrentJobs]', 'data-level')).toBe('exceeded');
    // Live: the list shows them being worked on without a reload.
    await page.waitForSelector(itemRow(ids[0], 'ENRICHING'), { timeout: 15_000 });
    await shoot(page, 'concurrency-limit');
    expect(await page.locator('[data-testid=item]').count()).toBe(3);
    await page.close();
  }, 90_000);

  it('an operator replays a dead letter from the console and the user sees the item turn DONE', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'payg');
    const userPage = await signedIn('user', user.key);
    // Five attempts of one call each fail; the sixth call (the replay) succeeds.
    const id = await createItem(userPage, `A provider that fails five times, then answers. replay-${run} [sim:fail_first=5]`, ['summarize']);
    await userPage.waitForSelector(itemRow(id, 'FAILED'), { timeout: 60_000 });

    const ops = await signedIn('operator', stack.adminKey);
    await ops.click('nav.tabs button:has-text("Dead letters")');
    await ops.fill('input[name=dlq-user]', user.id);
    const row = `[data-testid=dlq-row][data-job-id="${id}"]`;
    await ops.waitForSelector(row, { timeout: 30_000 });
    expect(await ops.locator('[data-testid=dlq-row]').count()).toBe(1);
    // The error filter narrows the list (server side, GET /admin/dlq?error=).
    await ops.fill('input[name=dlq-error]', `no-such-error-${run}`);
    await ops.waitForSelector('[data-testid=dlq-count]:text-is("0")');
    await ops.fill('input[name=dlq-error]', 'Simulated failure');
    await ops.waitForSelector(row);
    await ops.click(`${row} button:text-is("History")`);
    await ops.waitForSelector('[data-testid=dlq-history] li');
    expect(await ops.locator('[data-testid=dlq-history] li').count()).toBe(5);
    await shoot(ops, 'dead-letter-history');
    await ops.click(`${row} button:text-is("Replay")`);
    await ops.waitForSelector('[data-testid=dlq-notice]');
    expect(await text(ops, '[data-testid=dlq-notice]')).toMatch(new RegExp(`^Replayed ${id} as \\S+ \\(not charged\\)\\.$`));
    await ops.waitForSelector(row, { state: 'detached', timeout: 15_000 });

    await userPage.waitForSelector(itemRow(id, 'DONE'), { timeout: 30_000 });
    expect((await text(userPage, `[data-item-id="${id}"] [data-testid=summary]`)).length).toBeGreaterThan(0);
    // The replay's tokens are in the ledger, marked as not charged to the user.
    await userPage.waitForFunction(() => Array.from(document.querySelectorAll('[data-testid=ledger-row]')).some((r) => r.textContent?.includes('no (ops replay)')), undefined, { timeout: 15_000 });
    await shoot(userPage, 'dead-letter-replayed');
    await Promise.all([userPage.close(), ops.close()]);
  }, 150_000);

  it('pro plan: a repeated item is answered from the cache and the cache widget shows the hit', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const ops = await signedIn('operator', stack.adminKey);
    await ops.click('nav.tabs button:has-text("Cache")');
    await ops.waitForSelector('[data-testid=cache-tier-content][data-hits="0"]');

    const userPage = await signedIn('user', user.key);
    const content = `The cache answers a repeated item without a second LLM call. cache-${run}`;
    const first = await createItem(userPage, content, ['summarize']);
    await userPage.waitForSelector(itemRow(first, 'DONE'), { timeout: 30_000 });
    const second = await createItem(userPage, content, ['summarize']);
    await userPage.waitForSelector(itemRow(second, 'DONE'), { timeout: 30_000 });
    expect(await text(userPage, `[data-item-id="${second}"] .enrichment`)).toContain('from cache');
    expect(await text(userPage, `[data-item-id="${first}"] .enrichment`)).not.toContain('from cache');

    await ops.waitForSelector('[data-testid=cache-tier-content][data-hits="1"]', { timeout: 15_000 });
    const stats = (await http<CacheStats>('GET', `${stack.api}/admin/cache/stats`, { key: stack.adminKey })).body;
    console.log('cache stats after the repeat', JSON.stringify(stats.tiers));
    expect(stats.tiers.content).toMatchObject({ hits: 1, misses: 1 });
    // tier, entries, hits, misses, hit ratio
    expect((await ops.locator('[data-testid=cache-tier-content] td').allTextContents()).slice(0, 5)).toEqual(['content', '1', '1', '1', '50.0 %']);
    await shoot(ops, 'cache-hit');
    await Promise.all([userPage.close(), ops.close()]);
  }, 90_000);

  it('an operator finds a user by email, changes plan and an override, issues and revokes a key', async () => {
    const email = `console-${run}@example.com`;
    const created = await http<CreateUserResponse>('POST', `${stack.api}/admin/users`, { key: stack.adminKey, body: { plan: 'free', email } });
    expect(created.status).toBe(201);
    const userId = created.body.user.id;
    const firstKey = created.body.apiKey;

    // GET /admin/users?email=: one user or none, a valid email required, admins only.
    /** `T` is the answer the search expects (a refusal: ErrorBody). */
    const search = <T = UsersResponse>(query: string, key?: string) => http<T>('GET', `${stack.api}/admin/users${query}`, { key });
    const found = await search(`?email=${encodeURIComponent(email.toUpperCase())}`, stack.adminKey);
    expect(found.status).toBe(200);
    expect(found.body.users.map((u) => u.id)).toEqual([userId]);
    expect((await search(`?email=nobody-${run}%40example.com`, stack.adminKey)).body).toEqual({ users: [] });
    for (const query of ['?email=not-an-email', '']) {
      const refused = await search<ErrorBody>(query, stack.adminKey);
      expect([refused.status, refused.body.error.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
    expect((await search(`?email=${encodeURIComponent(email)}`, firstKey)).status).toBe(403);
    expect((await search(`?email=${encodeURIComponent(email)}`)).status).toBe(401);

    const ops = await signedIn('operator', stack.adminKey);
    await ops.click('nav.tabs button:has-text("Users")');
    await ops.fill('input[name=user-lookup]', email);
    await ops.click('button:text-is("Find")');
    await ops.waitForSelector('[data-testid=user-details]');
    expect(await text(ops, '[data-testid=user-details] h3')).toContain(userId);
    await ops.selectOption('select[name=user-plan]', 'payg');
    await ops.fill('input[name=override-enrichmentsPerDay]', '7');
    // Meanwhile another operator changes another limit of the same user: the form saves only what it changed, so both land.
    const other = await http('PATCH', `${stack.api}/admin/users/${userId}`, { key: stack.adminKey, body: { mergeOverrides: { tokensPerDay: 5000 } } });
    expect(other.status).toBe(200);
    await ops.click('button:has-text("Save plan and overrides")');
    await ops.waitForSelector('[data-testid=user-notice]:text-is("saved")');
    const storedUser = async () => (await http<UserResponse>('GET', `${stack.api}/admin/users/${userId}`, { key: stack.adminKey })).body.user;
    const stored = await storedUser();
    expect({ plan: stored.plan, overrides: stored.overrides }).toEqual({ plan: 'payg', overrides: { enrichmentsPerDay: 7, tokensPerDay: 5000 } });
    expect(await ops.inputValue('input[name=override-tokensPerDay]')).toBe('5000'); // the form shows the user as stored now
    // Emptied, an override is removed (the plan's limit again), the other kept.
    await ops.fill('input[name=override-enrichmentsPerDay]', '');
    await ops.click('button:has-text("Save plan and overrides")');
    await eventually(async () => JSON.stringify((await storedUser()).overrides) === JSON.stringify({ tokensPerDay: 5000 }));
    await ops.fill('input[name=override-enrichmentsPerDay]', '7');
    await ops.click('button:has-text("Save plan and overrides")');
    await eventually(async () => (await storedUser()).overrides.enrichmentsPerDay === 7);

    await ops.waitForSelector('[data-testid=key-row]');
    await ops.click('button:has-text("Issue a new key")');
    await ops.waitForSelector('[data-testid=user-notice]:has-text("New API key, shown this once")');
    const secondKey = (await text(ops, '[data-testid=user-notice]')).replace('New API key, shown this once: ', '');
    await ops.waitForFunction(() => document.querySelectorAll('[data-testid=key-row]').length === 2);
    const quota = await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: secondKey });
    expect([quota.status, quota.body.plan, quota.body.quotas.enrichmentsPerDay.limit]).toEqual([200, 'payg', 7]);

    // Keys are listed oldest first: revoke the one the user was created with.
    await ops.click('[data-testid=key-row][data-revoked=no] >> nth=0 >> button:has-text("Revoke")');
    await ops.waitForSelector('[data-testid=key-row][data-revoked=yes]');
    expect(await ops.locator('[data-testid=key-row][data-revoked=no]').count()).toBe(1);
    await eventually(async () => (await http('GET', `${stack.api}/v1/quota`, { key: firstKey })).status === 401);
    expect((await http('GET', `${stack.api}/v1/quota`, { key: secondKey })).status).toBe(200);
    await shoot(ops, 'users');
    await ops.close();
  }, 60_000);

  it('the overview shows the queue depths, counts the refused creates and the calls settled above their estimate', async () => {
    const read = async () => (await http<Overview>('GET', `${stack.api}/admin/overview`, { key: stack.adminKey })).body;
    const before = await read();
    const user = await createUser(stack.api, stack.adminKey, 'pro_monthly', { enrichmentsPerDay: 1 });
    /** POST /v1/items; `T` is the answer the call expects (a refusal: ErrorBody). */
    const post = <T = CreateItemResponse>(content: string) => http<T>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content, tasks: ['tag'] } });
    const accepted = await post(`A slow item the overview sees in flight. overview-${run} [sim:latency_ms=6000]`);
    expect(accepted.status).toBe(202);
    const refused = await post<ErrorBody>(`one too many overview-${run}`);
    expect([refused.status, refused.body.error.code]).toEqual([429, 'DAILY_QUOTA_EXCEEDED']);
    await waitForItem(stack.api, user.key, accepted.body.item.id, { until: ['ENRICHING'] });

    const after = await read();
    expect(after.createRequests.total - before.createRequests.total).toBe(2);
    expect(after.createRequests.refused - before.createRequests.refused).toBe(1);
    expect(after.createRequests.byStatus['429']).toBe(after.createRequests.refused);
    expect(Object.keys(after.queues).sort()).toEqual(['enrichment', 'enrichment-dead']);
    expect(after.queues.enrichment.active).toBe(1);

    // A provider that bills past the cap it was sent: a call settled above its estimate, on its own tile.
    expect(after.aboveEstimate.reservations).toBe(0);
    const caller = await createUser(stack.api, stack.adminKey, 'pro_monthly');
    const chat = await http('POST', `${stack.api}/v1/chat/completions`, { key: caller.key, body: { model: 'sim-1', max_tokens: 50, messages: [{ role: 'user', content: `Bills past its cap. overview-${run} [sim:runaway_tokens=200]` }] } });
    expect(chat.status).toBe(200);
    await eventually(async () => (await read()).aboveEstimate.tokens === 150);

    const ops = await signedIn('operator', stack.adminKey);
    await ops.waitForSelector(`[data-testid=refusals][data-refused="${after.createRequests.refused}"]`);
    expect(await text(ops, '[data-testid=refusals] strong')).toBe(`${after.createRequests.refused} of ${after.createRequests.total}`);
    expect(await text(ops, '[data-testid=queue-enrichment] td[data-state=active]')).toBe('1');
    await ops.waitForSelector('[data-testid=above-estimate][data-count="1"][data-tokens="150"]');
    expect(await text(ops, '[data-testid=above-estimate]')).toContain('150 tokens no charge checked');
    await shoot(ops, 'overview');
    await ops.close();
  }, 60_000);

  it('an operator discards one dead letter and replays the rest of a user charged; the user is charged for those two', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'payg');
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: `Fails five times, then answers. bulk-${i}-${run} [sim:fail_first=5]`, tasks: ['summarize'] } });
      expect(res.status).toBe(202);
      ids.push(res.body.item.id);
    }
    const statusOf = async (id: string) => (await http<ItemResponse>('GET', `${stack.api}/v1/items/${id}`, { key: user.key })).body.item.status;
    const quotaOf = async () => (await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key: user.key })).body.quotas.enrichmentsPerDay.used;
    await Promise.all(ids.map((id) => waitForItem(stack.api, user.key, id, { until: ['FAILED'], timeoutMs: 60_000 })));
    // Failed for good: the charge is released.
    await eventually(async () => (await quotaOf()) === 0);

    const ops = await signedIn('operator', stack.adminKey);
    // The overview counts every dead letter waiting, these three among them.
    const { deadLetters } = (await http<Overview>('GET', `${stack.api}/admin/overview`, { key: stack.adminKey })).body;
    expect(deadLetters).toBeGreaterThanOrEqual(3);
    await ops.waitForSelector(`[data-testid=dead-letters][data-count="${deadLetters}"]`);
    await ops.click('nav.tabs button:has-text("Dead letters")');
    await ops.fill('input[name=dlq-user]', user.id);
    await ops.waitForFunction(() => document.querySelectorAll('[data-testid=dlq-row]').length === 3, undefined, { timeout: 30_000 });
    await ops.click(`[data-testid=dlq-row][data-job-id="${ids[2]}"] button:text-is("Discard")`);
    await ops.waitForSelector(`[data-testid=dlq-notice]:text-is("Discarded ${ids[2]}.")`);
    await ops.waitForFunction(() => document.querySelectorAll('[data-testid=dlq-row]').length === 2);
    await ops.setChecked('input[name=dlq-charge]', true);
    await ops.click('button:has-text("Replay all of this user")');
    await ops.waitForSelector(`[data-testid=dlq-notice]:text-is("Replayed 2 job(s) of ${user.id}.")`);
    await ops.waitForSelector('[data-testid=dlq-count]:text-is("0")');
    await shoot(ops, 'dead-letters-replayed-all');

    await Promise.all(ids.slice(0, 2).map((id) => waitForItem(stack.api, user.key, id, { until: ['DONE'] })));
    expect(await statusOf(ids[2])).toBe('FAILED');
    expect(await quotaOf()).toBe(2);
    await ops.close();
  }, 120_000);

  it('an operator edits a plan row; the reconciliation table highlights a drifting row', async () => {
    const ops = await signedIn('operator', stack.adminKey);
    await ops.click('nav.tabs button:has-text("Plans")');
    const row = '[data-testid=plan-row][data-plan-id=pro_annual]';
    await ops.fill(`${row} input[aria-label="pro_annual AI calls / hour"]`, '12345');
    await ops.click(`${row} button:text-is("Save")`);
    await ops.waitForSelector(`${row} .notice:text-is("saved")`);
    const plans = (await http<PlansResponse>('GET', `${stack.api}/admin/plans`, { key: stack.adminKey })).body.plans;
    expect(plans.find((p) => p.id === 'pro_annual')).toMatchObject({ callsPerHour: 12345, tokensPerDay: 2_000_000 });

    // One settled item, then a counter moved behind the ledger's back: a drift of 7 tokens.
    const user = await createUser(stack.api, stack.adminKey, 'free');
    const created = await http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: `Reconciled to the token. drift-${run}`, tasks: ['tag'] } });
    const reconciliation = async () => (await http<ReconciliationResponse>('GET', `${stack.api}/admin/reconciliation?userId=${user.id}`, { key: stack.adminKey })).body;
    await waitForItem(stack.api, user.key, created.body.item.id, { until: ['DONE'] });
    await eventually(async () => {
      const rec = await reconciliation();
      return rec.rows.length === 1 && rec.rows[0].settledTokens > 0 && rec.totalDrift === 0;
    });
    await stack.db.query('UPDATE ai_daily_usage SET tokens = tokens + 7 WHERE user_id = $1', [user.id]);
    expect((await reconciliation()).rows.map((r) => r.drift)).toEqual([7]);

    await ops.click('nav.tabs button:has-text("Reconciliation")');
    await ops.fill('.reconciliation input >> nth=0', user.id);
    await ops.waitForSelector('[data-testid=reconciliation-row].drift[data-drift="7"]');
    // The drifting row shows in the unfiltered table too: wait for the filter's own answer.
    await ops.waitForFunction(() => document.querySelectorAll('[data-testid=reconciliation-row]').length === 1);
    expect(await ops.locator('[data-testid=reconciliation-row]').count()).toBe(1);
    expect(await text(ops, '[data-testid=total-drift]')).toBe('total drift 7');
    await shoot(ops, 'reconciliation-drift');
    await ops.close();
  }, 60_000);
});
