import type { TaskName } from '@qv/contracts';
import { countChatTokensBounded, countTokensBounded, TASKS } from '@qv/llm';
import { PATHOLOGICAL_CORPORA } from '@qv/llm/testing';
import { startService, type ServiceProcess } from '@qv/testing';

/**
 * Every body the API accepts (100,000 characters of anything) gets an answer in the task's
 * format, and usage counted the bounded way — before, a 100,000 × 'a' item stalled the simulator
 * (gpt-tokenizer's quadratic merge loop) and its summary came back cut mid-JSON, five times, to the
 * dead-letter queue (DESIGN.md §9).
 */
let sim: ServiceProcess;

beforeAll(async () => {
  sim = await startService('llm-simulator', { SIM_MODEL: 'sim-test' });
});

afterAll(async () => {
  await sim?.stop();
});

const TASK_NAMES: TaskName[] = ['summarize', 'tag', 'extract'];

describe('llm-simulator on pathological bodies of 100,000 characters', () => {
  it.each(Object.keys(PATHOLOGICAL_CORPORA))('answers summarize, tag and extract in their JSON for %s', async (name) => {
    const content = PATHOLOGICAL_CORPORA[name](100_000);
    for (const task of TASK_NAMES) {
      const messages = TASKS[task].buildMessages({ content, title: 'Pathological' });
      const res = await fetch(`${sim.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages, max_completion_tokens: TASKS[task].completionCap, response_format: { type: 'json_object' } }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        choices: { message: { content: string }; finish_reason: string }[];
        usage: { prompt_tokens: number; completion_tokens: number };
      };
      const answer = body.choices[0].message.content;
      expect(body.choices[0].finish_reason).toBe('stop');
      expect(() => TASKS[task].parse(answer)).not.toThrow();
      expect(body.usage.prompt_tokens).toBe(countChatTokensBounded(messages));
      expect(body.usage.completion_tokens).toBe(countTokensBounded(answer));
      expect(body.usage.completion_tokens).toBeLessThanOrEqual(TASKS[task].completionCap);
    }
  });
});
