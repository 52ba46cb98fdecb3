import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

/** Renders every overlay with the real `kubectl kustomize` (offline: no cluster) and checks what it holds. */
const ROOT = join(__dirname, '..', '..');
const SERVICES = ['api-service', 'quota-service', 'cache-service', 'enrichment-worker', 'ledger-consumer'];

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: any;
  data?: Record<string, string>;
}

function render(overlay: string): K8sObject[] {
  const result = spawnSync('kubectl', ['kustomize', join(ROOT, 'infra', 'k8s', 'overlays', overlay)], { encoding: 'utf8' });
  if (result.error) throw new Error(`kubectl not runnable (${result.error.message}); TOOLCHAIN.md: it ships with these machines`);
  if (result.status !== 0) throw new Error(`kubectl kustomize ${overlay} failed:\n${result.stderr}`);
  return parseAllDocuments(result.stdout).map((d) => d.toJS() as K8sObject).filter(Boolean);
}

const find = (objects: K8sObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

describe.each(['production', 'dev'])('kubectl kustomize infra/k8s/overlays/%s', (overlay) => {
  let objects: K8sObject[];
  beforeAll(() => {
    objects = render(overlay);
  });

  it('renders every service as a Deployment and a Service, in the quota-vault namespace', () => {
    for (const name of [...SERVICES, ...(overlay === 'dev' ? ['llm-simulator'] : [])]) {
      expect({ name, deployment: !!find(objects, 'Deployment', name), service: !!find(objects, 'Service', name), metrics: find(objects, 'Service', `${name}-metrics`)?.spec.clusterIP }).toEqual({ name, deployment: true, service: true, metrics: 'None' });
    }
    for (const o of objects.filter((o) => o.kind !== 'Namespace')) expect({ kind: o.kind, name: o.metadata.name, ns: o.metadata.namespace }).toEqual({ kind: o.kind, name: o.metadata.name, ns: 'quota-vault' });
    if (overlay === 'production') expect(find(objects, 'Deployment', 'llm-simulator')).toBeUndefined();
  });

  it('hardens every pod: probes, resources, non-root, read-only root, no capabilities, secrets only by reference', () => {
    for (const o of objects.filter((o) => o.kind === 'Deployment' || o.kind === 'Job')) {
      const pod = o.spec.template.spec;
      expect({ name: o.metadata.name, runAsNonRoot: pod.securityContext?.runAsNonRoot }).toEqual({ name: o.metadata.name, runAsNonRoot: true });
      for (const c of pod.containers) {
        const where = `${o.kind}/${o.metadata.name}`;
        expect({ where, sc: c.securityContext }).toMatchObject({ where, sc: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } });
        expect({ where, requests: !!c.resources?.requests?.cpu && !!c.resources?.requests?.memory, limits: !!c.resources?.limits?.memory }).toEqual({ where, requests: true, limits: true });
        if (o.kind === 'Deployment') {
          expect({ where, readiness: c.readinessProbe?.httpGet?.path, liveness: c.livenessProbe?.httpGet?.path }).toEqual({ where, readiness: '/readyz', liveness: '/healthz' });
        }
        for (const e of c.env ?? []) {
          // No credential written as a literal: DATABASE_URL, REDIS_URL and keys come from Secrets, tokens as files.
          if (/DATABASE_URL|REDIS_URL|TOKEN|KEY|PASSWORD/.test(e.name) && !e.name.endsWith('_FILE')) expect({ where, name: e.name, fromSecret: !!e.valueFrom?.secretKeyRef }).toEqual({ where, name: e.name, fromSecret: true });
        }
      }
    }
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });

  it('gives each service a PodDisruptionBudget, HPAs for the request path, and the migration Job', () => {
    for (const name of SERVICES) expect({ name, pdb: !!find(objects, 'PodDisruptionBudget', name) }).toEqual({ name, pdb: true });
    expect(find(objects, 'HorizontalPodAutoscaler', 'api-service')?.spec.scaleTargetRef.name).toBe('api-service');
    expect(find(objects, 'HorizontalPodAutoscaler', 'quota-service')?.spec.scaleTargetRef.name).toBe('quota-service');
    const job = find(objects, 'Job', 'quota-vault-migrate');
    expect(job?.spec.template.spec.containers[0].command.join(' ')).toContain('dist/migrate/main.js');
    if (overlay === 'production') {
      const replicas = Object.fromEntries(SERVICES.map((n) => [n, find(objects, 'Deployment', n)?.spec.replicas]));
      expect(replicas).toEqual({ 'api-service': 2, 'quota-service': 3, 'cache-service': 2, 'enrichment-worker': undefined, 'ledger-consumer': 2 });
    }
  });

  it('scales enrichment-worker with KEDA on the queue backlog a recording rule counts (wait + prioritized)', () => {
    const scaled = find(objects, 'ScaledObject', 'enrichment-worker');
    expect(scaled?.apiVersion).toBe('keda.sh/v1alpha1');
    expect(scaled?.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'enrichment-worker' });
    const [trigger] = scaled!.spec.triggers;
    // Fair-share jobs all carry a priority: BullMQ keeps them in :prioritized, a sorted set KEDA's
    // redis scaler cannot read, so the trigger reads the rule that counts both.
    expect(trigger).toMatchObject({ type: 'prometheus', metadata: { query: 'queue:bullmq_waiting_jobs:max{queue="enrichment"}', threshold: '40' } });
    const rules = readFileSync(join(__dirname, '../prometheus/rules/recording.yml'), 'utf8');
    expect(rules).toMatch(/record: queue:bullmq_waiting_jobs:max\n\s+expr: .*state=~"wait\|prioritized"/);
  });

  it('lets only api-service reach quota-service, and only api-service and the worker reach cache-service', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const deny = policies.find((p) => Object.keys(p.spec.podSelector).length === 0);
    expect(deny?.spec).toEqual({ podSelector: {}, policyTypes: ['Ingress'], ingress: [] });
    const sources = (target: string) => {
      const policy = policies.find((p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === target)!;
      return policy.spec.ingress.flatMap((rule: { from?: { podSelector?: { matchLabels: Record<string, string> }; namespaceSelector?: unknown }[] }) =>
        (rule.from ?? [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': '*' } } }]).map((f) => (f.namespaceSelector ? 'monitoring/prometheus' : f.podSelector!.matchLabels['app.kubernetes.io/name']))).sort();
    };
    expect(sources('quota-service')).toEqual(['api-service', 'monitoring/prometheus']);
    expect(sources('cache-service')).toEqual(['api-service', 'enrichment-worker', 'monitoring/prometheus']);
    expect(sources('enrichment-worker')).toEqual(['monitoring/prometheus']);
    expect(sources('ledger-consumer')).toEqual(['monitoring/prometheus']);
  });
});
