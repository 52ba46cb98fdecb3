import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { LlmError, llmErrorFromStatus, parseRetryAfterMs } from './errors';
import { mapSdkError } from './providers/sdk-errors';

const NOW = Date.parse('2030-01-01T00:00:00Z');

describe('parseRetryAfterMs', () => {
  it('reads delta seconds, an HTTP date, and prefers retry-after-ms', () => {
    expect(parseRetryAfterMs({ 'Retry-After': '2' }, NOW)).toBe(2000);
    expect(parseRetryAfterMs({ 'retry-after': '1.5' }, NOW)).toBe(1500);
    expect(parseRetryAfterMs(new Headers({ 'retry-after': 'Tue, 01 Jan 2030 00:00:07 GMT' }), NOW)).toBe(7000);
    expect(parseRetryAfterMs(new Headers({ 'retry-after': '5', 'retry-after-ms': '250' }), NOW)).toBe(250);
  });

  it('is 0 for a past date and undefined when absent or unreadable', () => {
    expect(parseRetryAfterMs({ 'retry-after': 'Mon, 31 Dec 2029 23:59:00 GMT' }, NOW)).toBe(0);
    expect(parseRetryAfterMs({}, NOW)).toBeUndefined();
    expect(parseRetryAfterMs(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfterMs({ 'retry-after': 'soon' }, NOW)).toBeUndefined();
  });
});

describe('llmErrorFromStatus', () => {
  it.each([
    [429, 'rate_limited', true],
    [500, 'server', true],
    [503, 'server', true],
    [529, 'server', true],
    [408, 'timeout', true],
    [400, 'client', false],
    [401, 'client', false],
    [404, 'client', false],
    [422, 'client', false],
  ] as const)('%i → %s (retryable %s)', (status, kind, retryable) => {
    const err = llmErrorFromStatus(status, {}, 'boom');
    expect(err).toBeInstanceOf(LlmError);
    expect(err.kind).toBe(kind);
    expect(err.retryable).toBe(retryable);
    expect(err.status).toBe(status);
  });

  it('carries Retry-After on a 429', () => {
    expect(llmErrorFromStatus(429, { 'retry-after': '3' }, 'slow down').retryAfterMs).toBe(3000);
    expect(llmErrorFromStatus(429, {}, 'slow down').retryAfterMs).toBeUndefined();
  });
});

describe('mapSdkError', () => {
  it('maps the OpenAI SDK’s errors', () => {
    const rate = mapSdkError(OpenAI.APIError.generate(429, { error: { message: 'x' } }, undefined, new Headers({ 'retry-after': '4' })), OpenAI, 'openai');
    expect([rate.kind, rate.retryAfterMs, rate.retryable]).toEqual(['rate_limited', 4000, true]);
    expect(mapSdkError(OpenAI.APIError.generate(502, undefined, 'bad gateway', new Headers()), OpenAI, 'openai').kind).toBe('server');
    const bad = mapSdkError(OpenAI.APIError.generate(400, undefined, 'bad', new Headers()), OpenAI, 'openai');
    expect([bad.kind, bad.retryable, bad.status]).toEqual(['client', false, 400]);
    expect(mapSdkError(new OpenAI.APIConnectionTimeoutError(), OpenAI, 'openai').kind).toBe('timeout');
    expect(mapSdkError(new OpenAI.APIUserAbortError(), OpenAI, 'openai').kind).toBe('timeout');
    expect(mapSdkError(new OpenAI.APIConnectionError({ message: 'ECONNREFUSED' }), OpenAI, 'openai').kind).toBe('network');
    expect(mapSdkError(new SyntaxError('Unexpected token'), OpenAI, 'openai').kind).toBe('invalid_response');
  });

  it('maps the Anthropic SDK’s errors, and passes an LlmError through', () => {
    const overloaded = mapSdkError(Anthropic.APIError.generate(529, undefined, 'overloaded', new Headers()), Anthropic, 'anthropic');
    expect([overloaded.kind, overloaded.status]).toEqual(['server', 529]);
    expect(mapSdkError(new Anthropic.APIConnectionTimeoutError(), Anthropic, 'anthropic').kind).toBe('timeout');
    const own = new LlmError('client', 'as is');
    expect(mapSdkError(own, Anthropic, 'anthropic')).toBe(own);
  });
});
