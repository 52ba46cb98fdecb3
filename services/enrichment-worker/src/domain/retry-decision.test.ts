import { LlmError } from '@qv/llm';
import { CircuitOpenError } from './provider-guard';
import { decideRetry } from './retry-decision';

describe('decideRetry', () => {
  const llm = (kind: LlmError['kind'], retryable: boolean, retryAfterMs?: number) =>
    Object.assign(Object.create(LlmError.prototype) as LlmError, { kind, retryable, retryAfterMs, message: kind });

  it('slows the queue on a provider 429 for its Retry-After', () => {
    expect(decideRetry(llm('rate_limited', true, 2500))).toEqual({ kind: 'rate_limited', delayMs: 2500, reason: 'rate_limited' });
    expect(decideRetry(llm('rate_limited', true)).kind).toBe('rate_limited');
  });

  it('retries 5xx, timeouts and bad answers, gives up on other 4xx', () => {
    expect(decideRetry(llm('server', true)).kind).toBe('retry');
    expect(decideRetry(llm('timeout', true)).kind).toBe('retry');
    expect(decideRetry(llm('invalid_response', true)).kind).toBe('retry');
    expect(decideRetry(llm('client', false)).kind).toBe('give_up');
  });

  it('holds the queue while the circuit refuses calls, for the time it names', () => {
    expect(decideRetry(new CircuitOpenError('open', 7000))).toEqual({ kind: 'circuit_open', delayMs: 7000, reason: 'circuit open: the provider is failing' });
    expect(decideRetry(new CircuitOpenError('half_open', 500))).toEqual({ kind: 'circuit_open', delayMs: 500, reason: 'circuit half-open: a trial call is in flight' });
    expect(decideRetry(new CircuitOpenError('open', 0))).toMatchObject({ kind: 'circuit_open', delayMs: 50 });
  });
});
