import { setTimeout as sleep } from 'node:timers/promises';
import type { Response } from 'express';
import type { Answer } from '../domain/answers';
import type { ToolCallAnswer } from '../domain/tool-calls';
import { streamPieces } from '../domain/stream-chunks';

export interface StreamedCompletion {
  id: string;
  created: number;
  model: string;
  reply: Answer | ToolCallAnswer;
  usage: { prompt_tokens: unknown; completion_tokens: number; total_tokens: number };
  /** `stream_options.include_usage`: one more chunk, with empty choices and the usage, before `[DONE]`. */
  includeUsage: boolean;
  /** Pause before every chunk after the first. */
  chunkDelayMs: number;
}

/** A function call's arguments in the pieces a model streams them in. */
const argumentPieces = (text: string): string[] => text.match(/[\s\S]{1,16}/g) ?? [];

/**
 * Streams an answer as OpenAI does (`text/event-stream`, `data: <chunk>` lines, `data: [DONE]`):
 * a first chunk with the role (and a function call's name), one per piece of content (or of its
 * arguments), one with `finish_reason`, then the usage
 * chunk when asked for. A caller that goes away stops the stream (the answer was produced whole all
 * the same, as a real model bills what it generated).
 */
export async function streamCompletion(res: Response, completion: StreamedCompletion): Promise<void> {
  const { id, created, model } = completion;
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices, ...extra })}\n\n`;
  const gone = new AbortController();
  res.once('close', () => gone.abort());
  res.status(200).set({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();

  const reply = completion.reply;
  const delta = (d: Record<string, unknown>) => chunk([{ index: 0, delta: d, logprobs: null, finish_reason: null }]);
  const body =
    'toolCall' in reply
      ? [
          delta({ role: 'assistant', content: null, tool_calls: [{ index: 0, id: reply.toolCall.id, type: 'function', function: { name: reply.toolCall.name, arguments: '' } }] }),
          ...argumentPieces(reply.toolCall.arguments).map((piece) => delta({ tool_calls: [{ index: 0, function: { arguments: piece } }] })),
        ]
      : [delta({ role: 'assistant', content: '' }), ...streamPieces(reply.content).map((piece) => delta({ content: piece }))];
  const events = [
    ...body,
    chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: completion.reply.finishReason }]),
    ...(completion.includeUsage ? [chunk([], { usage: completion.usage })] : []),
    'data: [DONE]\n\n',
  ];
  for (let i = 0; i < events.length; i++) {
    if (i > 0 && completion.chunkDelayMs > 0) {
      try {
        await sleep(completion.chunkDelayMs, undefined, { signal: gone.signal });
      } catch {
        return;
      }
    }
    if (gone.signal.aborted) return;
    res.write(events[i]);
  }
  res.end();
}
