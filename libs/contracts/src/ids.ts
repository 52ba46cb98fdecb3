import { randomBytes } from 'node:crypto';

/**
 * Prefixed, time-sortable ids (`itm_…`, `rsv_…`, `evt_…`): 48 bits of milliseconds then 80 random
 * bits, Crockford base32, so ids sort by creation time and can serve as pagination cursors.
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export type IdPrefix = 'itm' | 'rsv' | 'evt' | 'usr' | 'key' | 'led' | 'obx' | 'cch' | 'job' | 'chc';

export function newId(prefix: IdPrefix, now = Date.now()): string {
  let time = '';
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(10);
  let rand = '';
  for (let i = 0; i < 16; i++) {
    const bit = i * 5;
    const byte = bit >> 3;
    const value = ((bytes[byte] << 8) | (bytes[byte + 1] ?? 0)) >> (11 - (bit & 7));
    rand += ALPHABET[value & 31];
  }
  return `${prefix}_${time}${rand}`;
}
