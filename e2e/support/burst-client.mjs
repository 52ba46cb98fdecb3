// A burst of concurrent POST /v1/items from one key, sent from a process of its own so that the
// burst's client work (10,000 sockets, requests and answers) does not delay the process that times
// the other user's requests: argv url key count; prints the answers ({ status, retryAfter, quotaRemaining, code }[])
// and its own CPU ms as one JSON line.
import { Agent, request } from 'undici';

const [url, key, countText] = process.argv.slice(2);
const count = Number(countText);
const agent = new Agent({ connections: count, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000 });
const answers = await Promise.all(
  Array.from({ length: count }, async (_, i) => {
    try {
      const res = await request(`${url}/v1/items`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ content: `A's burst ${i}` }),
      });
      const text = await res.body.text();
      const one = (name) => (Array.isArray(res.headers[name]) ? res.headers[name][0] : (res.headers[name] ?? null));
      return { status: res.statusCode, retryAfter: one('retry-after'), quotaRemaining: one('x-ai-quota-remaining'), code: res.statusCode === 202 ? null : JSON.parse(text).error.code };
    } catch (err) {
      return { status: 0, retryAfter: null, quotaRemaining: null, code: `${err.message}: ${err.cause?.message}` };
    }
  }),
);
await agent.close();
const { user, system } = process.cpuUsage();
process.stdout.write(`${JSON.stringify({ answers, cpuMs: (user + system) / 1000 })}\n`);
