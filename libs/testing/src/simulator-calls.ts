import { http } from './http';

/** How many chat completion calls the llm-simulator at `simulatorUrl` has had whose user content contains `marker`. */
export async function simulatorCalls(simulatorUrl: string, marker: string): Promise<number> {
  const res = await http<{ count: number }>('GET', `${simulatorUrl}/sim/calls?contains=${encodeURIComponent(marker)}`);
  if (res.status !== 200) throw new Error(`GET /sim/calls → ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.count;
}
