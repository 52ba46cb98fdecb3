import { createServer, type IncomingMessage, type Server } from 'node:http';
import { LlmError } from '../errors';
import { TASKS } from '../tasks/tasks';
import { runTask } from '../testing';
import { AnthropicProvider } from './anthropic.provider';
import { createProvider } from './create-provider';

/**
 * A real HTTP server on 127.0.0.1 that speaks the shape of Anthropic's Messages API: the SDK is
 * pointed at it, so requests, answers and errors cross a real socket through the real SDK.
 */
interface Seen {
  path: string;
  /** This SDK version sends the key as a bearer token. */
  auth: string | undefined;
  version: string | undefined;
  body: { model: string; max_tokens: number; system?: string; messages: { role: string; content: string }[] };
}

let server: Server;
let baseURL: string;
const seen: Seen[] = [];

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => resolve(data));
  });
}

function anthropicError(type: string, message: string) {
  return JSON.stringify({ type: 'error', error: { type, message } });
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const raw = await readBody(req);
    const body = JSON.parse(raw) as Seen['body'];
    seen.push({ path: req.url ?? '', auth: req.headers.authorization ?? (req.headers['x-api-key'] as string | undefined), version: req.headers['anthropic-version'] as string, body });
    const user = body.messages.map((m) => m.content).join('\n');
    const json = (status: number, payload: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(payload);
    };
    if (user.includes('case:429')) return json(429, anthropicError('rate_limit_error', 'Number of request tokens has exceeded your rate limit'), { 'retry-after': '7' });
    if (user.includes('case:529')) return json(529, anthropicError('overloaded_error', 'Overloaded'));
    if (user.includes('case:400')) return json(400, anthropicError('invalid_request_error', 'max_tokens: Field required'));
    if (user.includes('case:401')) return json(401, anthropicError('authentication_error', 'invalid x-api-key'));
    if (user.includes('case:no-usage')) return json(200, JSON.stringify({ id: 'msg_1', type: 'message', role: 'assistant', model: body.model, content: [{ type: 'text', text: 'hi' }], stop_reason: 'end_turn' }));
    const answer = () =>
      json(
        200,
        JSON.stringify({
          id: 'msg_01',
          type: 'message',
          role: 'assistant',
          model: 'claude-3-5-haiku-20241022',
          content: [{ type: 'text', text: '```json\n{"summary": "A short summary."}\n```' }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: 42, output_tokens: 9, cache_creation_input_tokens: 3, cache_read_input_tokens: 5 },
        }),
      );
    if (user.includes('case:slow')) return void setTimeout(() => !res.destroyed && answer(), 400);
    answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseURL = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function provider(timeoutMs = 2000): AnthropicProvider {
  return createProvider({ provider: 'anthropic', apiKey: 'sk-ant-test', baseUrl: baseURL, model: 'claude-3-5-haiku-latest', timeoutMs }) as AnthropicProvider;
}

async function failure(promise: Promise<unknown>): Promise<LlmError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(LlmError);
    return err as LlmError;
  }
  throw new Error('expected the call to fail');
}

describe('AnthropicProvider against a Messages API server', () => {
  it('sends the system prompt apart, and returns the text and usage (cache tokens included)', async () => {
    seen.length = 0;
    const input = { content: 'Quota Vault charges every AI call.', title: 'QV' };
    const { output, result } = await runTask(provider(), 'summarize', input);
    expect(output).toEqual({ summary: 'A short summary.' });
    expect(result).toEqual({ text: '```json\n{"summary": "A short summary."}\n```', model: 'claude-3-5-haiku-20241022', promptTokens: 50, completionTokens: 9 });
    expect(seen).toHaveLength(1);
    expect(seen[0].path).toBe('/v1/messages');
    expect(seen[0].auth).toBe('Bearer sk-ant-test');
    expect(seen[0].version).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(seen[0].body.model).toBe('claude-3-5-haiku-latest');
    expect(seen[0].body.max_tokens).toBe(TASKS.summarize.completionCap);
    expect(seen[0].body.system).toBe(TASKS.summarize.systemPrompt);
    expect(seen[0].body.messages).toEqual([{ role: 'user', content: 'Title: QV\n\nQuota Vault charges every AI call.' }]);
  });

  it('429 → rate_limited with Retry-After, made once (no SDK retry)', async () => {
    seen.length = 0;
    const err = await failure(provider().complete({ messages: [{ role: 'user', content: 'case:429' }], maxTokens: 10 }));
    expect([err.kind, err.status, err.retryAfterMs, err.retryable]).toEqual(['rate_limited', 429, 7000, true]);
    expect(seen).toHaveLength(1);
  });

  it('529 overloaded → server, retryable', async () => {
    const err = await failure(provider().complete({ messages: [{ role: 'user', content: 'case:529' }], maxTokens: 10 }));
    expect([err.kind, err.status, err.retryable]).toEqual(['server', 529, true]);
  });

  it('400 and 401 → client, not retryable', async () => {
    for (const status of [400, 401]) {
      const err = await failure(provider().complete({ messages: [{ role: 'user', content: `case:${status}` }], maxTokens: 10 }));
      expect([err.kind, err.status, err.retryable]).toEqual(['client', status, false]);
    }
  });

  it('an answer without usage → invalid_response', async () => {
    const err = await failure(provider().complete({ messages: [{ role: 'user', content: 'case:no-usage' }], maxTokens: 10 }));
    expect([err.kind, err.retryable]).toEqual(['invalid_response', true]);
  });

  it('slower than the timeout → timeout', async () => {
    const err = await failure(provider(100).complete({ messages: [{ role: 'user', content: 'case:slow' }], maxTokens: 10 }));
    expect([err.kind, err.retryable]).toEqual(['timeout', true]);
  });

  it('needs a key', () => {
    expect(() => createProvider({ provider: 'anthropic', timeoutMs: 1000 })).toThrow(/ANTHROPIC_API_KEY/);
  });
});
