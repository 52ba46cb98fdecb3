import { AppError, ValidationError } from '@qv/contracts';
import { openAiError } from './openai-errors';

describe('openAiError', () => {
  it('puts our code in OpenAI’s `code`, the status’ type in `type`, and Retry-After seconds beside them', () => {
    expect(openAiError(new AppError('DAILY_QUOTA_EXCEEDED', 'Daily limit reached', { retryAfterSeconds: 30, details: { plan: 'free' } }))).toEqual({
      status: 429,
      body: { error: { message: 'Daily limit reached', type: 'rate_limit_error', code: 'DAILY_QUOTA_EXCEEDED', param: null, retryAfterSeconds: 30 } },
    });
    expect(openAiError(new AppError('UNAUTHENTICATED', 'No key')).body.error.type).toBe('authentication_error');
    expect(openAiError(new AppError('SERVICE_UNAVAILABLE', 'Down')).status).toBe(503);
  });

  it('names the first invalid field as `param`, and keeps the zod issues', () => {
    const issues = [{ path: ['messages', '0', 'role'], code: 'invalid_value', message: 'Invalid option' }];
    expect(openAiError(new ValidationError('Invalid request body', issues))).toEqual({
      status: 400,
      body: { error: { message: 'Invalid request body', type: 'invalid_request_error', code: 'VALIDATION_FAILED', param: 'messages.0.role', details: issues } },
    });
  });
});
