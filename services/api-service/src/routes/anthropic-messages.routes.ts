import { AnthropicMessagesRequest } from '@qv/contracts';
import { parseOr400 } from '@qv/http';
import type { Router } from 'express';
import { AnthropicStream, anthropicError, messageBody, replayAnthropic } from '../domain/anthropic-format';
import { toChatRequest } from '../domain/anthropic-request';
import { chatRoutes, type ChatCompletionsRouteDeps, type ChatDialect } from './chat-completions.routes';
import { responseSink } from './response-sink';

export const ANTHROPIC_MESSAGES_PATH = '/v1/messages';
/** Where Anthropic's SDK sends its key. */
export const ANTHROPIC_API_KEY_HEADER = 'x-api-key';

/** Anthropic's Messages API: its body, answers, stream events and errors, over the same chat path. */
export const ANTHROPIC_MESSAGES: ChatDialect = {
  path: ANTHROPIC_MESSAGES_PATH,
  parse(raw) {
    const body = parseOr400(AnthropicMessagesRequest, raw);
    // Settled from the stream's last chunk either way; Anthropic's stream always reports its usage.
    return { request: toChatRequest(body), stream: body.stream === true, includeUsage: true };
  },
  sink(res, limits) {
    const events = responseSink(res, limits);
    // Made at `start`, which completeChat calls before any event, once it knows the prompt's charge.
    let stream: AnthropicStream | undefined;
    const translator = () => (stream ??= new AnthropicStream(0));
    return {
      start: (headers, promptTokens) => {
        stream = new AnthropicStream(promptTokens);
        events.start(headers, promptTokens);
      },
      send: (event) => {
        const out = translator().translate(event);
        if (out) events.send(out);
      },
      end: (lastEvent) => events.end(translator().finish(lastEvent)),
    };
  },
  answerBody: messageBody,
  replayStream: (completion) => replayAnthropic(completion),
  error: anthropicError,
  streamError: (body) => `event: error\ndata: ${JSON.stringify(body)}\n\n`,
  apiKeyHeader: ANTHROPIC_API_KEY_HEADER,
};

/**
 * `POST /v1/messages`, Anthropic-compatible: `new Anthropic({ baseURL: '<api>', apiKey: '<a Quota
 * Vault key>' })` works unchanged (its `x-api-key` is the key). The same charge (prompt + the
 * required `max_tokens`, clamped to the budget left), cache tiers, provider layer, settlement,
 * ledger and Idempotency-Key as `POST /v1/chat/completions`, whose code it is.
 */
export function anthropicMessagesRoutes(deps: ChatCompletionsRouteDeps): Router {
  return chatRoutes(deps, ANTHROPIC_MESSAGES);
}
