import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { detectTask } from '@qv/llm';
import { Router } from 'express';
import { z } from 'zod';
import { answer, cutAnswer, type Answer } from '../domain/answers';
import { BAD_PROMPT_TOKENS, parseDirectives } from '../domain/directives';
import { billedPromptTokens } from '../domain/prompt-usage';
import { chosenTool, toolCallAnswer, type ToolCallAnswer } from '../domain/tool-calls';
import type { FaultInjector } from '../domain/faults';
import type { CallLog } from '../repositories/call-log';
import { sendOpenAiError } from './openai-errors';
import { streamCompletion } from './stream-completion';

const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const Message = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(ContentPart), z.null()]),
});
const ChatCompletionBody = z.looseObject({
  model: z.string().min(1).optional(),
  messages: z.array(Message).min(1),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  response_format: z.looseObject({ type: z.string() }).optional(),
  tools: z.array(z.looseObject({ type: z.string(), function: z.looseObject({ name: z.string() }).optional() })).optional(),
  tool_choice: z.unknown().optional(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
});

/** What the simulator reports as its backend configuration (OpenAI's `system_fingerprint`). */
export const SYSTEM_FINGERPRINT = 'fp_qv_sim';

/** What an absent max_tokens means here (a real model would use its context window). */
const DEFAULT_MAX_TOKENS = 1024;

export interface ChatCompletionDeps {
  model: string;
  baseLatencyMs: number;
  faults: FaultInjector;
  calls: CallLog;
  onOutcome: (outcome: 'ok' | 'fault' | 'invalid') => void;
}

function text(content: z.infer<typeof Message>['content']): string {
  if (content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((part) => part.text ?? '').join('');
}

/** `POST /v1/chat/completions` (streamed as server-sent events with `stream: true`) and `GET /v1/models`, OpenAI-compatible. */
export function chatCompletionRoutes(deps: ChatCompletionDeps): Router {
  const router = Router();

  router.get('/v1/models', (_req, res) => {
    res.json({ object: 'list', data: [{ id: deps.model, object: 'model', created: 0, owned_by: 'qv-llm-simulator' }] });
  });

  router.post('/v1/chat/completions', async (req, res) => {
    const parsed = ChatCompletionBody.safeParse(req.body);
    if (!parsed.success) {
      deps.onOutcome('invalid');
      const issue = parsed.error.issues[0];
      return sendOpenAiError(res, 400, `Invalid request: ${issue.path.join('.') || 'body'}: ${issue.message}`, 'invalid_request_error', {
        param: issue.path.join('.') || null,
        code: 'invalid_request',
      });
    }
    const body = parsed.data;
    const messages = body.messages.map((m) => ({ role: m.role, content: text(m.content) }));
    const userContent = messages
      .filter((m) => m.role === 'user')
      .map((m) => m.content)
      .join('\n');
    deps.calls.record(userContent);

    const directives = parseDirectives(userContent);
    const latency = deps.baseLatencyMs + (directives.latencyMs ?? 0);
    if (latency > 0) {
      // A caller that gave up (timeout, abort) must not keep the timer alive nor get an answer.
      const gone = new AbortController();
      res.once('close', () => gone.abort());
      try {
        await sleep(latency, undefined, { signal: gone.signal });
      } catch {
        return;
      }
    }

    const fault = deps.faults.decide(userContent, directives);
    if (fault) {
      deps.onOutcome('fault');
      const [type, code] =
        fault.status === 429
          ? ['requests', 'rate_limit_exceeded']
          : fault.status === 503
            ? ['server_error', 'service_unavailable']
            : fault.status >= 500
              ? ['server_error', null]
              : ['invalid_request_error', 'simulated_client_error'];
      return sendOpenAiError(res, fault.status, fault.message, type, { code, retryAfterSeconds: fault.retryAfterSeconds });
    }

    const system = messages
      .filter((m) => m.role === 'system' || m.role === 'developer')
      .map((m) => m.content)
      .join('\n');
    const maxTokens = body.max_completion_tokens ?? body.max_tokens ?? DEFAULT_MAX_TOKENS;
    const tool = chosenTool(body.tools, body.tool_choice);
    const reply: Answer | ToolCallAnswer = tool
      ? toolCallAnswer(`call_${randomUUID().replace(/-/g, '').slice(0, 24)}`, tool, userContent, maxTokens)
      : directives.runawayTokens
        ? cutAnswer(directives.runawayTokens)
        : deps.faults.cutsAnswer(userContent, directives)
          ? cutAnswer(maxTokens)
          : answer(detectTask(system), userContent, maxTokens);
    const promptTokens = billedPromptTokens(body.messages, body.tools);
    deps.onOutcome('ok');
    const id = `chatcmpl-${randomUUID().replace(/-/g, '')}`;
    const created = Math.floor(Date.now() / 1000);
    const model = body.model ?? deps.model;
    // With the details OpenAI adds, so that a gateway that drops what it does not know shows.
    const details = { prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 } };
    const usage = directives.badUsage
      ? { prompt_tokens: BAD_PROMPT_TOKENS[directives.badUsage], completion_tokens: reply.completionTokens, total_tokens: 0, ...details }
      : { prompt_tokens: promptTokens, completion_tokens: reply.completionTokens, total_tokens: promptTokens + reply.completionTokens, ...details };
    if (body.stream) {
      return streamCompletion(res, { id, created, model, reply, usage, includeUsage: body.stream_options?.include_usage === true, chunkDelayMs: directives.chunkMs ?? 0 });
    }
    res.json({
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: answerMessage(reply), logprobs: null, finish_reason: reply.finishReason }],
      usage,
      service_tier: 'default',
      system_fingerprint: SYSTEM_FINGERPRINT,
    });
  });

  return router;
}

/** The assistant's message of an unstreamed answer: its text, or the function it calls. */
function answerMessage(reply: Answer | ToolCallAnswer): Record<string, unknown> {
  if (!('toolCall' in reply)) return { role: 'assistant', content: reply.content, refusal: null };
  const { id, name, arguments: args } = reply.toolCall;
  return { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name, arguments: args } }], refusal: null };
}
