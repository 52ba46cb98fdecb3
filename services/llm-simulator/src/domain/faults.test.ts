import { parseDirectives } from './directives';
import { FaultInjector } from './faults';

describe('FaultInjector', () => {
  it('always fails with the status asked for; a 429 carries Retry-After (default 1 s)', () => {
    const faults = new FaultInjector();
    expect(faults.decide('x', parseDirectives('[sim:status=429]'))).toMatchObject({ status: 429, retryAfterSeconds: 1 });
    expect(faults.decide('x', parseDirectives('[sim:status=429] [sim:retry_after=9]'))).toMatchObject({ status: 429, retryAfterSeconds: 9 });
    for (let i = 0; i < 3; i++) expect(faults.decide('x', parseDirectives('[sim:status=503]'))?.status).toBe(503);
    expect(faults.decide('x', {})).toBeUndefined();
  });

  it('fails the first N calls per user content, then succeeds; reset starts over', () => {
    const faults = new FaultInjector();
    const a = 'doc A [sim:fail_first=2]';
    const b = 'doc B [sim:fail_first=2]';
    const d = parseDirectives(a);
    expect(faults.decide(a, d)?.status).toBe(500);
    expect(faults.decide(b, d)?.status).toBe(500);
    expect(faults.decide(a, d)?.status).toBe(500);
    expect(faults.decide(a, d)).toBeUndefined();
    expect(faults.decide(a, d)).toBeUndefined();
    expect(faults.decide(b, d)?.status).toBe(500);
    expect(faults.decide(b, d)).toBeUndefined();
    faults.reset();
    expect(faults.decide(a, d)?.status).toBe(500);
  });

  it('fail_nth fails only the Nth call per user content (500), the calls before and after it answer', () => {
    const faults = new FaultInjector();
    const a = 'doc A [sim:fail_nth=2]';
    const d = parseDirectives(a);
    expect(faults.decide(a, d)).toBeUndefined();
    expect(faults.decide('doc B [sim:fail_nth=2]', d)).toBeUndefined();
    expect(faults.decide(a, d)?.status).toBe(500);
    expect(faults.decide(a, d)).toBeUndefined();
    expect(faults.decide(a, d)).toBeUndefined();
  });

  it('cut_first cuts the first N answers per user content, counted apart from the failures', () => {
    const faults = new FaultInjector();
    const a = 'doc A [sim:cut_first=1] [sim:fail_first=1]';
    const d = parseDirectives(a);
    expect(faults.decide(a, d)?.status).toBe(500);
    expect(faults.cutsAnswer(a, d)).toBe(true);
    expect(faults.cutsAnswer(a, d)).toBe(false);
    expect(faults.cutsAnswer('doc B', parseDirectives('doc B'))).toBe(false);
  });

  it('fails with 503 until the given epoch ms, with the seconds left as Retry-After', () => {
    let now = 1_000_000;
    const faults = new FaultInjector(() => now);
    const d = parseDirectives('[sim:fail_until=1002500]');
    expect(faults.decide('x', d)).toMatchObject({ status: 503, retryAfterSeconds: 3 });
    now = 1_002_499;
    expect(faults.decide('x', d)).toMatchObject({ status: 503, retryAfterSeconds: 1 });
    now = 1_002_500;
    expect(faults.decide('x', d)).toBeUndefined();
  });

  it('fail_first answers with fail_first_status when given: a bounded run of 429s with Retry-After', () => {
    const faults = new FaultInjector();
    const a = 'doc [sim:fail_first=2] [sim:fail_first_status=429] [sim:retry_after=3]';
    const d = parseDirectives(a);
    expect(faults.decide(a, d)).toMatchObject({ status: 429, retryAfterSeconds: 3 });
    expect(faults.decide(a, d)).toMatchObject({ status: 429, retryAfterSeconds: 3 });
    expect(faults.decide(a, d)).toBeUndefined();
  });

  it('answers client errors (not worth retrying) when asked', () => {
    const faults = new FaultInjector();
    expect(faults.decide('x', parseDirectives('[sim:status=400]'))).toEqual({ status: 400, message: 'Simulated 400' });
    expect(faults.decide('x', parseDirectives('[sim:status=422]'))?.status).toBe(422);
  });
});
