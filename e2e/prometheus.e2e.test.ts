import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CreateItemResponse } from '@qv/contracts';
import { createUser, eventually, freePort, http, startStack, waitForItem, type Stack } from '@qv/testing';
import { ensureDebianPackage } from '../infra/prometheus/ensure-promtool';

/**
 * A real Prometheus (Debian's package, installed when missing) scrapes the running stack with the
 * `metrics` credential and evaluates infra/prometheus/rules; its query API then returns the
 * series the dashboard and the alerts are built on, with the expected labels.
 */
const ROOT = join(__dirname, '..');
const SCRAPED = ['api-service', 'quota-service', 'cache-service', 'enrichment-worker', 'ledger-consumer'] as const;

interface Sample { metric: Record<string, string>; value: [number, string] }

describe('Prometheus scrapes the running stack', () => {
  let stack: Stack;
  let prometheus: ChildProcess | undefined;
  let dir: string;
  let base: string;
  let output = '';
  // One credential for every service's /metrics, whatever the harness generates for the others.
  const metricsToken = randomBytes(32).toString('base64url');

  const query = async (promql: string): Promise<Sample[]> => {
    const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data: { result: Sample[] } };
    if (body.status !== 'success') throw new Error(`query ${promql}: ${JSON.stringify(body)}`);
    return body.data.result;
  };

  beforeAll(async () => {
    const found = ensureDebianPackage('prometheus', 'prometheus');
    if (!found.available) throw new Error(found.reason);
    stack = await startStack({ env: { SERVICE_TOKEN_METRICS: metricsToken } });
    dir = mkdtempSync(join(tmpdir(), 'qv-prometheus-'));
    writeFileSync(join(dir, 'metrics-token'), `${metricsToken}\n`);
    cpSync(join(ROOT, 'infra', 'prometheus', 'rules'), join(dir, 'rules'), { recursive: true });
    // Static targets: the ports the harness gave each service (/metrics on the operations port where there is one).
    const jobs = SCRAPED.map((name) => {
      const svc = stack.services[name]! as { url: string; opsUrl?: string };
      const target = new URL(svc.opsUrl ?? svc.url).host;
      return `  - job_name: ${name}\n    authorization:\n      credentials_file: ${join(dir, 'metrics-token')}\n    static_configs:\n      - targets: ['${target}']\n`;
    });
    writeFileSync(join(dir, 'prometheus.yml'), `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files:\n  - rules/*.yml\nscrape_configs:\n${jobs.join('')}`);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    prometheus.stdout!.on('data', (d) => (output += d));
    prometheus.stderr!.on('data', (d) => (output += d));
    await eventually(async () => (await fetch(`${base}/-/ready`)).ok, 30_000, 200).catch((err) => {
      throw new Error(`prometheus did not become ready: ${(err as Error).message}\n${output}`);
    });
  }, 120_000);

  afterAll(async () => {
    if (prometheus?.pid && prometheus.exitCode === null) {
      const exited = new Promise((r) => prometheus!.once('exit', r));
      process.kill(prometheus.pid, 'SIGTERM');
      await exited;
    }
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes every service with the credential, and returns the series of one item', async () => {
    const user = await createUser(stack.api, stack.adminKey, 'free');
    const created = await http<CreateItemResponse>('POST', `${stack.api}/v1/items`, { key: user.key, body: { content: 'Prometheus scrapes every service. The charge histogram and the request counter carry their labels.', title: 'Scraped' } });
    expect(created.status).toBe(202);
    await waitForItem(stack.api, user.key, created.body.item.id, { until: ['DONE'] });

    // Every target up: /metrics answered 200 to the bearer credential (a 401 would make up = 0).
    const up = await eventually(async () => {
      const samples = await query('up');
      return samples.length === SCRAPED.length && samples.every((s) => s.value[1] === '1') ? samples : undefined;
    }, 30_000, 500).catch(async (err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(await query('up'))}`);
    });
    expect(up.map((s) => s.metric.job).sort()).toEqual([...SCRAPED].sort());

    // api-service's request counter for the accepted POST, with its labels.
    const accepted = await eventually(async () => {
      const samples = await query('http_request_duration_seconds_count{job="api-service", method="POST", route="/v1/items", status="202"}');
      return samples.length === 1 && Number(samples[0].value[1]) >= 1 ? samples[0] : undefined;
    }, 20_000, 500);
    expect(accepted.metric).toMatchObject({ job: 'api-service', service: 'api-service', method: 'POST', route: '/v1/items', status: '202' });

    // quota-service's charge histogram, bucketed, for the accepted charge.
    const buckets = await eventually(async () => {
      const samples = await query('quota_charge_duration_seconds_bucket{job="quota-service", outcome="accepted", le="+Inf"}');
      return samples.length === 1 && Number(samples[0].value[1]) >= 1 ? samples : undefined;
    }, 20_000, 500);
    expect(buckets[0].metric).toMatchObject({ service: 'quota-service', outcome: 'accepted' });
    expect(Number((await query('sum(quota_charges_total{outcome="accepted", code="NONE"})'))[0].value[1])).toBeGreaterThanOrEqual(1);

    // The series the alerts need, from the services that know them.
    const worker = await eventually(async () => {
      const [queues, circuit, deps] = await Promise.all([query('bullmq_job_count{queue="enrichment", state="wait"}'), query('llm_circuit_state'), query('dependency_up{job="enrichment-worker"}')]);
      return queues.length === 1 && circuit.length === 1 && deps.length === 2 ? { queues, circuit, deps } : undefined;
    }, 20_000, 500);
    expect(worker.circuit[0].value[1]).toBe('0');
    expect(worker.deps.map((s) => [s.metric.dependency, s.value[1]]).sort()).toEqual([['postgres', '1'], ['redis', '1']]);
    const tokens = await eventually(async () => {
      // Settled where the item ended (the worker), ledger-consumer only what could not be: summed over jobs, as the dashboard does.
      const samples = await query('sum by (kind) (ledger_tokens_total)');
      return samples.length === 2 && samples.every((s) => Number(s.value[1]) > 0) ? samples : undefined;
    }, 20_000, 500);
    expect(tokens.map((s) => s.metric.kind).sort()).toEqual(['completion', 'prompt']);
    // SettledAboveEstimate's series, today's at 0 from the day's first reconciliation on.
    const today = new Date().toISOString().slice(0, 10);
    const above = await eventually(async () => {
      const samples = await query(`ledger_tokens_above_estimate{job="ledger-consumer", day="${today}"}`);
      return samples.length === 1 ? samples : undefined;
    }, 20_000, 500);
    expect(above[0].value[1]).toBe('0');

    // And the recording rules evaluate over the real series.
    const recorded = await eventually(async () => {
      const samples = await query('queue:bullmq_waiting_jobs:max');
      return samples.length >= 3 ? samples : undefined;
    }, 20_000, 500);
    expect(recorded.map((s) => s.metric.queue).sort()).toEqual(['enrichment', 'enrichment-dead', 'usage-events']);
  });
});
