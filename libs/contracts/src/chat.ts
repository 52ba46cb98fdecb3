import { z } from 'zod';
import { INT32_MAX, safeString } from './bounds';

/** A completion cap: 1 .. int4 max (what the reservation column holds). */
const completionCap = () => z.number().int().min(1).max(INT32_MAX);

/**
 * The OpenAI-compatible synchronous path (`POST /v1/chat/completions`, DESIGN.md §4). Only what
 * Quota Vault reads is checked; every other field of OpenAI's body (temperature, tools, …) passes
 * through to the provider untouched (loose objects).
 */
export const ChatContentPart = z.looseObject({ type: z.string().max(64), text: safeString().optional() });
export type ChatContentPart = z.infer<typeof ChatContentPart>;

/** A function's name as OpenAI and Anthropic both require it (a provider refuses any other after the charge). */
export const ToolName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a tool name is 1 to 64 letters, digits, _ or -');

/** A tool the assistant called, as the client sends the conversation back: a function, or a custom tool. */
const ChatToolCall = z.discriminatedUnion('type', [
  z.looseObject({ id: safeString().min(1).max(256), type: z.literal('function'), function: z.looseObject({ name: ToolName, arguments: safeString() }) }),
  z.looseObject({ id: safeString().min(1).max(256), type: z.literal('custom'), custom: z.looseObject({ name: ToolName, input: safeString() }) }),
]);

export const ChatRequestMessage = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([safeString(), z.array(ChatContentPart).max(1000), z.null()]).optional(),
  tool_calls: z.array(ChatToolCall).max(128).optional(),
  tool_call_id: safeString().min(1).max(256).optional(),
});

/**
 * The tools a call offers, checked as far as a provider refuses them: a refusal after the charge
 * would cost the user a reservation and a failed ledger entry for a body that was never valid.
 */
const ChatTool = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: ToolName, description: safeString().optional(), parameters: z.record(z.string(), z.unknown()).optional() }) }),
  z.looseObject({ type: z.literal('custom'), custom: z.looseObject({ name: ToolName }) }),
]);
const ChatToolChoice = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), function: z.looseObject({ name: ToolName }) }),
  z.looseObject({ type: z.enum(['allowed_tools', 'custom']) }),
]);
export type ChatRequestMessage = z.infer<typeof ChatRequestMessage>;

export const ChatCompletionRequest = z.looseObject({
  model: safeString().min(1).max(200).optional(),
  messages: z.array(ChatRequestMessage).min(1).max(1000),
  max_tokens: completionCap().nullish(),
  max_completion_tokens: completionCap().nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  /** One answer per call: the charge and the cache hold one completion. */
  n: z.literal(1).nullish(),
  // Sampling settings in OpenAI's ranges: out of them the provider refuses the call after its charge.
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  seed: z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).nullish(),
  stop: z.union([safeString().max(1000), z.array(safeString().max(1000)).max(4)]).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  tools: z.array(ChatTool).max(128).nullish(),
  tool_choice: ChatToolChoice.nullish(),
  response_format: z.looseObject({ type: z.enum(['text', 'json_object', 'json_schema']) }).nullish(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

/** The tiers a call may opt into with `X-QV-Cache` (the system tier is not for user content). */
export const ChatCacheTier = z.enum(['session', 'content']);
export type ChatCacheTier = z.infer<typeof ChatCacheTier>;

/** `X-QV-Cache-TTL`: seconds, never more than the plan's TTL for the tier. */
export const ChatCacheTtlHeader = z.coerce.number().int().min(1).max(7 * 24 * 3600);

/** A function the model called, as OpenAI's message carries it (`arguments`: the model's JSON text). */
export const StoredToolCall = z.object({
  id: z.string(),
  type: z.string(),
  function: z.object({ name: z.string(), arguments: z.string() }),
});
export type StoredToolCall = z.infer<typeof StoredToolCall>;

/** A completion as stored in the cache and in an idempotency record, replayed streamed or not. */
export const StoredChatCompletion = z.object({
  id: z.string(),
  model: z.string(),
  created: z.number().int(),
  content: z.string(),
  /** The functions the model called instead of (or beside) answering in text. */
  toolCalls: z.array(StoredToolCall).optional(),
  finishReason: z.string().nullable(),
  promptTokens: z.number().int().nonnegative(),
  completionTokens: z.number().int().nonnegative(),
});
export type StoredChatCompletion = z.infer<typeof StoredChatCompletion>;
