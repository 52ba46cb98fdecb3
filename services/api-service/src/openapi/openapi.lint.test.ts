import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildOpenApiDocument } from './openapi';

const REDOCLY = resolve(__dirname, '../../../../node_modules/.bin/redocly');

interface Problem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location?: Array<{ pointer?: string }>;
}

/**
 * The document GET /openapi.json serves, linted by Redocly's CLI with its recommended rules
 * (client generators name their methods from operationId and expect 4xx answers): no error, no
 * warning. Runs the CLI in a fresh directory so no redocly.yaml of the tree changes the rules.
 */
describe('OpenAPI document under `redocly lint` (recommended rules)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'qv-openapi-lint-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has no error and no warning', () => {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(buildOpenApiDocument(), null, 2));
    const run = spawnSync(REDOCLY, ['lint', '--extends', 'recommended', '--format', 'json', file], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 50_000,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
    });
    if (run.error) throw run.error;
    const start = run.stdout.indexOf('{');
    if (start < 0) throw new Error(`redocly printed no JSON (exit ${run.status}):\n${run.stdout}\n${run.stderr}`);
    const report = JSON.parse(run.stdout.slice(start)) as { totals: { errors: number; warnings: number }; problems: Problem[] };
    const problems = report.problems.map((p) => `${p.severity} ${p.ruleId} at ${p.location?.[0]?.pointer ?? '?'}: ${p.message}`);
    expect(problems).toEqual([]);
    expect(report.totals).toMatchObject({ errors: 0, warnings: 0 });
    expect(run.status).toBe(0);
  });

  it('names every operation with a unique camelCase operationId', () => {
    const doc = buildOpenApiDocument();
    const ids = Object.values(doc.paths as Record<string, Record<string, { operationId?: string }>>).flatMap((item) =>
      Object.values(item).map((op) => op.operationId),
    );
    expect(ids.length).toBeGreaterThan(20);
    for (const id of ids) expect(id).toMatch(/^[a-z][A-Za-z]+$/);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining(['createItem', 'getItem', 'listItems', 'getQuota', 'listUsage', 'createUser', 'getUser', 'updateUser', 'listPlans', 'updatePlan', 'listDeadLetters', 'replayDeadLetter']));
  });
});
