import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { ensurePromtool } from './ensure-promtool';

/** The real promtool (Debian's prometheus package, installed here when missing) over infra/prometheus. */
const DIR = __dirname;
const RULES = join(DIR, 'rules');
const TESTS = join(DIR, 'tests');
const yamlFiles = (dir: string) => readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f));

function promtool(args: string[], cwd = DIR): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

interface Rule { alert?: string; record?: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> }

describe('Prometheus configuration, rules and their unit tests (promtool)', () => {
  beforeAll(() => ensurePromtool(), 300_000);

  it('promtool check config: the scrape configuration is valid, rule files included', () => {
    // As shipped (the credential file exists only where Prometheus runs: syntax only)…
    const syntax = promtool(['check', 'config', '--syntax-only', 'prometheus.yml']);
    expect({ status: syntax.status, output: syntax.output }).toMatchObject({ status: 0 });
    // …and in full, with the credential file present and the rule files beside it.
    const dir = mkdtempSync(join(tmpdir(), 'qv-promcfg-'));
    try {
      cpSync(RULES, join(dir, 'rules'), { recursive: true });
      writeFileSync(join(dir, 'metrics-token'), 'test-credential\n');
      writeFileSync(join(dir, 'prometheus.yml'), readFileSync(join(DIR, 'prometheus.yml'), 'utf8').replaceAll('/etc/prometheus/secrets/metrics-token', join(dir, 'metrics-token')));
      const full = promtool(['check', 'config', 'prometheus.yml'], dir);
      expect({ status: full.status, output: full.output }).toMatchObject({ status: 0 });
      expect(full.output).toMatch(/SUCCESS: \d+ rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('promtool check rules', () => {
    const result = promtool(['check', 'rules', ...yamlFiles(RULES)]);
    expect({ status: result.status, output: result.output }).toMatchObject({ status: 0 });
  });

  it('promtool test rules: every test file passes', () => {
    const result = promtool(['test', 'rules', ...yamlFiles(TESTS)]);
    expect({ status: result.status, output: result.output }).toMatchObject({ status: 0 });
  });

  it('scrapes every service, each with the metrics credential (but the simulator, which has none)', () => {
    const config = parse(readFileSync(join(DIR, 'prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string; authorization?: { credentials_file?: string } }[] };
    const jobs = new Map(config.scrape_configs.map((j) => [j.job_name, j]));
    for (const service of ['api-service', 'quota-service', 'cache-service', 'enrichment-worker', 'ledger-consumer']) {
      expect(jobs.get(service)?.authorization?.credentials_file).toBe('/etc/prometheus/secrets/metrics-token');
    }
    expect(jobs.has('llm-simulator')).toBe(true);
  });

  it('every alert has severity, summary, description and runbook, and at least one unit test', () => {
    const rules: Rule[] = yamlFiles(RULES).flatMap((f) => (parse(readFileSync(f, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules));
    const alerts = rules.filter((r) => r.alert);
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    for (const alert of alerts) {
      expect({ alert: alert.alert, severity: ['critical', 'warning'].includes(alert.labels?.severity ?? '') }).toEqual({ alert: alert.alert, severity: true });
      for (const key of ['summary', 'description', 'runbook']) expect({ alert: alert.alert, key, present: (alert.annotations?.[key] ?? '').length > 10 }).toEqual({ alert: alert.alert, key, present: true });
    }
    const tested = new Set<string>();
    const firing = new Set<string>();
    for (const file of yamlFiles(TESTS)) {
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
        const suite = doc.toJS() as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] };
        for (const t of suite.tests) for (const a of t.alert_rule_test ?? []) {
          tested.add(a.alertname);
          if ((a.exp_alerts ?? []).length > 0) firing.add(a.alertname);
        }
      }
    }
    const names = alerts.map((a) => a.alert!);
    // Each alert is shown firing at least once (a test expecting only silence proves little).
    expect(names.filter((n) => !firing.has(n))).toEqual([]);
    expect(names.filter((n) => !tested.has(n))).toEqual([]);
    // And no test names an alert that does not exist (a renamed alert would leave it testing nothing).
    expect([...tested].filter((n) => !names.includes(n))).toEqual([]);
  });

  it('the Grafana dashboard is valid JSON, and every panel queries series the services or the rules produce', () => {
    const dashboard = JSON.parse(readFileSync(join(DIR, '..', 'grafana', 'quota-vault.json'), 'utf8')) as { title: string; uid: string; panels: { title: string; type: string; targets?: { expr: string }[] }[] };
    expect(dashboard.uid).toBe('quota-vault');
    const titles = dashboard.panels.map((p) => p.title);
    for (const wanted of [/accept/i, /latency/i, /refusals by code/i, /charge p99/i, /queue depth/i, /oldest/i, /dead letters/i, /circuit/i, /cache hit ratio/i, /tokens/i, /cost/i, /drift/i]) {
      expect({ wanted: String(wanted), found: titles.some((t) => wanted.test(t)) }).toEqual({ wanted: String(wanted), found: true });
    }
    const recorded = new Set(yamlFiles(RULES).flatMap((f) => (parse(readFileSync(f, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules.map((r) => r.record).filter(Boolean))));
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
      expect({ panel: panel.title, targets: (panel.targets ?? []).length > 0 }).toEqual({ panel: panel.title, targets: true });
      for (const { expr } of panel.targets ?? []) {
        // A recorded name the rules do not define would be an empty panel forever.
        for (const name of expr.match(/[a-z_]+:[a-z0-9_:]+/g) ?? []) expect({ panel: panel.title, name, defined: recorded.has(name) }).toEqual({ panel: panel.title, name, defined: true });
      }
    }
  });
});

