// What the chat path's e2e files ask of a stack: the official SDK pointed at it, a user's quota,
// a call's ledger entry once settled, its reservation.
import type { QuotaStatus, UsageEntry, UsagePage } from '@qv/contracts';
import { eventually, http, type Stack } from '@qv/testing';
import OpenAI from 'openai';

/** The official `openai` SDK with only its base URL and key changed (no retries: each call is the test's). */
export const openAiSdk = (stack: Stack, apiKey: string, headers: Record<string, string> = {}) => new OpenAI({ apiKey, baseURL: `${stack.api}/v1`, maxRetries: 0, defaultHeaders: headers });

export const quotaOf = async (stack: Stack, key: string) => (await http<QuotaStatus>('GET', `${stack.api}/v1/quota`, { key })).body.quotas;

/** A call's ledger entries (its id is their item id). */
export const entriesOf = async (stack: Stack, key: string, callId: string) => (await http<UsagePage>('GET', `${stack.api}/v1/usage`, { key })).body.entries.filter((e) => e.itemId === callId);

/** A call's one ledger entry, once it is settled. */
export const settledEntry = (stack: Stack, key: string, callId: string): Promise<UsageEntry> =>
  eventually(async () => {
    const entries = await entriesOf(stack, key, callId);
    return entries.length === 1 ? entries[0] : undefined;
  });

/** A call's reservation as stored. */
export const reservationOf = async (stack: Stack, callId: string) =>
  (await stack.db.query<{ status: string; actual_tokens: number | null; estimated_tokens: number }>('SELECT status, actual_tokens, estimated_tokens FROM ai_usage_reservations WHERE item_id = $1', [callId]))[0];
