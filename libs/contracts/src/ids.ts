import { randomFillSync } from 'node:crypto';

/**
 * Prefixed, time-sortable ids (`itm_…`, `rsv_…`, `evt_…`): 48 bits of milliseconds then 80 random
 * bits, Crockford base32, so ids sort by creation time and can serve as pagination cursors.
 */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export type IdPrefix = 'itm' | 'rsv' | 'evt' | 'usr' | 'key' | 'led' | 'obx' | 'cch' | 'job' | 'chc';

/** The ten characters of an id's milliseconds. */
function timePart(ms: number): string {
  let time = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    time = ALPHABET[t % 32] + time;
    t = Math.floor(t / 32);
  }
  return time;
}

/** A string below every id of `prefix` made at or after `ms`, and above every one made before it: a range bound. */
export function idFloor(prefix: IdPrefix, ms: number): string {
  return `${prefix}_${timePart(Math.max(0, ms))}`;
}

export function newId(prefix: IdPrefix, now = Date.now()): string {
  const time = timePart(now);
  const at = takeRandom(RANDOM_BYTES);
  let rand = '';
  for (let i = 0; i < 16; i++) {
    const bit = i * 5;
    const byte = bit >> 3;
    const value = ((pool[at + byte] << 8) | (byte + 1 < RANDOM_BYTES ? pool[at + byte + 1] : 0)) >> (11 - (bit & 7));
    rand += ALPHABET[value & 31];
  }
  return `${prefix}_${time}${rand}`;
}

/** 80 random bits per id. */
const RANDOM_BYTES = 10;
/**
 * Random bytes drawn ahead, as Node's randomUUID does: one randomFillSync per 409 ids instead of an
 * allocation and a system call for each (5 % of api-service's CPU under load, measured).
 */
const pool = Buffer.alloc(4096);
let poolAt = pool.length;

/** The offset of `n` fresh random bytes in `pool`, each byte handed out once. */
function takeRandom(n: number): number {
  if (poolAt + n > pool.length) {
    randomFillSync(pool);
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += n;
  return at;
}
