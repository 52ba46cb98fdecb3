import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { O200K_TOKEN_SPLIT_REGEX } from 'gpt-tokenizer/cjs/encodingParams/constants';
import { parseVocabulary, serializeVocabulary, VOCABULARY_FILE_NAME, type VocabularyArrays } from './vocabulary-file';

/**
 * An exact o200k_base byte-pair encoder of one pre-token in O(m log m) for m bytes, built on the
 * two public tables gpt-tokenizer ships — its mergeable ranks and its pre-tokenization regex — not
 * on its private internals. gpt-tokenizer's own merge loop rescans every pair after every merge
 * and looks each pair up through a UTF-8 check and a `TextDecoder` call: O(m²), with a large
 * constant. Here the pairs wait in a heap (a pre-token of ≤ 16 bytes is simply rescanned) and are
 * looked up in a flat hash table of the vocabulary's bytes, behind a cache keyed by the two ranks.
 * The vocabulary is read from the file the build writes beside the bundle (./vocabulary-file,
 * ~10 ms), or built from the ranks (~0.1 s) where there is none, at import (see the warm-up in
 * tokens.ts). The merge order is the same (lowest rank first, leftmost on a tie), so the tokens
 * are the same: tokens.property.test.ts compares both on random text.
 *
 * Internal to `@qv/llm`; use `countTokensBounded` / `truncateToTokens` from `./tokens`.
 */

/** No rank: the bytes are not a token. */
const NONE = -1;

// Bound once: inside a vm context (jest's test sandbox) every global lookup such as `Math` goes
// through the context's interceptors, which made the hot loops ten times slower there.
const imul = Math.imul;
const floor = Math.floor;

/** Rank-pair cache: 2¹⁸ slots (3 MB), direct-mapped (a new pair takes its slot's place). */
const PAIR_CACHE_SLOTS = 1 << 18;
const PAIR_CACHE_MASK = PAIR_CACHE_SLOTS - 1;

/**
 * Every mergeable token's bytes in one pool and an open-addressing hash table from bytes to rank:
 * ~200k tokens, ~1.4 MB of bytes, made once on first use (`vocab()`), from the vocabulary file or
 * from gpt-tokenizer's ranks (`vocabularyArraysFromRanks`) — the same arrays either way.
 */
export class Vocabulary {
  private readonly pool: Uint8Array;
  private readonly start: Int32Array;
  private readonly slots: Int32Array;
  private readonly mask: number;
  /** 1 where the rank table holds the token as a string (valid UTF-8), 0 where as raw bytes. */
  private readonly isString: Uint8Array;
  private readonly byteRanks = new Int32Array(256);
  private readonly pairA = new Int32Array(PAIR_CACHE_SLOTS).fill(NONE);
  private readonly pairB = new Int32Array(PAIR_CACHE_SLOTS);
  private readonly pairValue = new Int32Array(PAIR_CACHE_SLOTS);
  /** Two tokens' bytes side by side (no token is longer than 128 bytes). */
  private readonly pairKey = new Uint8Array(1024);

  constructor(arrays: VocabularyArrays) {
    this.pool = arrays.pool;
    this.start = arrays.start;
    this.isString = arrays.isString;
    this.slots = arrays.slots;
    this.mask = arrays.slots.length - 1;
    for (let b = 0; b < 256; b++) {
      const rank = this.pairRank(Uint8Array.of(b), 0, 1);
      if (rank === NONE) throw new Error(`o200k_base: byte ${b} is not a token`);
      this.byteRanks[b] = rank;
    }
  }

  /** The rank whose bytes are `bytes[from, to)`, or NONE. */
  private find(bytes: Uint8Array, from: number, to: number): number {
    const length = to - from;
    if (length <= 0) return NONE;
    let slot = hash(bytes, from, to) & this.mask;
    for (;;) {
      const rank = this.slots[slot];
      if (rank === NONE) return NONE;
      const s = this.start[rank];
      if (this.start[rank + 1] - s === length) {
        let i = 0;
        while (i < length && this.pool[s + i] === bytes[from + i]) i++;
        if (i === length) return rank;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  /**
   * The rank of a whole pre-token whose UTF-8 is `bytes[from, to)`, as gpt-tokenizer looks it up
   * before any merge: by its string, so among the tokens stored as strings.
   */
  wholeRank(bytes: Uint8Array, from: number, to: number): number {
    const rank = this.find(bytes, from, to);
    return rank !== NONE && this.isString[rank] === 1 ? rank : NONE;
  }

  /**
   * The rank of `bytes[from, to)` as gpt-tokenizer's merge loop looks a pair up
   * (`getBpeRankFromBytes`): valid UTF-8 is decoded by a `TextDecoder`, which drops a leading
   * byte-order mark, and looked up among the string tokens; anything else among the byte tokens.
   * Quirk included (so the nine byte tokens that start with a BOM are never merged into): the
   * counts are gpt-tokenizer's to the token.
   */
  pairRank(bytes: Uint8Array, from: number, to: number): number {
    if (!isValidUtf8(bytes, from, to)) return this.find(bytes, from, to);
    if (to - from >= 3 && bytes[from] === 0xef && bytes[from + 1] === 0xbb && bytes[from + 2] === 0xbf) from += 3;
    return this.wholeRank(bytes, from, to);
  }

  /** The rank of a single byte, as `pairRank` finds it (all 256 bytes are tokens). */
  byteRank(b: number): number {
    return this.byteRanks[b];
  }

  /**
   * `pairRank` of token `a`'s bytes followed by token `b`'s, cached by the two ranks. Valid for
   * segments whose bytes are their token's: all of them unless a merge dropped a BOM.
   */
  merged(a: number, b: number): number {
    const slot = pairSlot(a, b);
    if (this.pairA[slot] === a && this.pairB[slot] === b) return this.pairValue[slot];
    const pool = this.pool;
    const key = this.pairKey;
    const aFrom = this.start[a];
    const aLength = this.start[a + 1] - aFrom;
    const bFrom = this.start[b];
    const bLength = this.start[b + 1] - bFrom;
    for (let i = 0; i < aLength; i++) key[i] = pool[aFrom + i];
    for (let i = 0; i < bLength; i++) key[aLength + i] = pool[bFrom + i];
    const rank = this.pairRank(key, 0, aLength + bLength);
    this.pairA[slot] = a;
    this.pairB[slot] = b;
    this.pairValue[slot] = rank;
    return rank;
  }
}

function pairSlot(a: number, b: number): number {
  const h = imul(a, 0x9e3779b1) ^ imul(b + 0x7f4a7c15, 0x85ebca77);
  return (h ^ (h >>> 16)) & PAIR_CACHE_MASK;
}

/** FNV-1a of `bytes[from, to)`, mixed. */
function hash(bytes: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = imul(h ^ bytes[i], 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}

/** Strict UTF-8 (no overlong form, surrogate or code point past U+10FFFF), as gpt-tokenizer checks it. */
function isValidUtf8(bytes: Uint8Array, from: number, to: number): boolean {
  let i = from;
  while (i < to) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let cp: number;
    if ((b & 0xe0) === 0xc0) {
      if (b <= 0xc1) return false;
      need = 1;
      cp = b & 0x1f;
    } else if ((b & 0xf0) === 0xe0) {
      need = 2;
      cp = b & 0x0f;
    } else if ((b & 0xf8) === 0xf0) {
      if (b > 0xf4) return false;
      need = 3;
      cp = b & 0x07;
    } else return false;
    if (i + need >= to) return false;
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if ((need === 2 && cp < 0x800) || (need === 3 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return false;
    i += need + 1;
  }
  return true;
}

/**
 * Writes the UTF-8 of `text[from, to)` at `out[at]` (which needs room for 3 bytes per code unit)
 * and returns where it ends. A lone surrogate becomes U+FFFD (EF BF BD), as `TextEncoder` has it.
 */
export function writeUtf8(text: string, from: number, to: number, out: Uint8Array, at: number): number {
  for (let i = from; i < to; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[at++] = c;
      continue;
    }
    if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
      out[at++] = 0x80 | (c & 0x3f);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const low = i + 1 < to ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && low >= 0xdc00 && low <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
        out[at++] = 0xf0 | (cp >> 18);
        out[at++] = 0x80 | ((cp >> 12) & 0x3f);
        out[at++] = 0x80 | ((cp >> 6) & 0x3f);
        out[at++] = 0x80 | (cp & 0x3f);
        i++;
        continue;
      }
      c = 0xfffd;
    }
    out[at++] = 0xe0 | (c >> 12);
    out[at++] = 0x80 | ((c >> 6) & 0x3f);
    out[at++] = 0x80 | (c & 0x3f);
  }
  return at;
}

/** The UTF-8 length of `text[from, to)`, a lone surrogate counting as U+FFFD (3 bytes). */
export function utf8Length(text: string, from = 0, to = text.length): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** A `Vocabulary`'s arrays from a rank table such as gpt-tokenizer's (rank → string or bytes). */
export function vocabularyArraysFromRanks(ranks: ReadonlyArray<string | readonly number[] | undefined>): VocabularyArrays {
  const n = ranks.length;
  const start = new Int32Array(n + 1);
  const isString = new Uint8Array(n);
  let pool = new Uint8Array(1 << 21);
  let used = 0;
  for (let rank = 0; rank < n; rank++) {
    start[rank] = used;
    const value = ranks[rank];
    if (value === undefined) continue;
    if (used + 4 * value.length > pool.length) {
      const grown = new Uint8Array(pool.length * 2);
      grown.set(pool);
      pool = grown;
    }
    if (typeof value === 'string') {
      isString[rank] = 1;
      used = writeUtf8(value, 0, value.length, pool, used);
    } else {
      for (const b of value) pool[used++] = b;
    }
  }
  start[n] = used;
  // A copy, not a view: the pool is kept for good, the slack of the growing buffer is not.
  pool = pool.slice(0, used);

  let size = 1;
  while (size < n * 2) size <<= 1;
  const slots = new Int32Array(size).fill(NONE);
  const mask = size - 1;
  for (let rank = 0; rank < n; rank++) {
    const from = start[rank];
    const to = start[rank + 1];
    if (to === from) continue;
    let slot = hash(pool, from, to) & mask;
    while (slots[slot] !== NONE) slot = (slot + 1) & mask;
    slots[slot] = rank;
  }
  return { pool, start, isString, slots };
}

/** gpt-tokenizer's o200k_base rank table: a 2.4 MB module of 200k strings (~45 MB resident), required only when asked for. */
function o200kRanks(): ReadonlyArray<string | readonly number[] | undefined> {
  return (require('gpt-tokenizer/cjs/bpeRanks/o200k_base') as typeof import('gpt-tokenizer/cjs/bpeRanks/o200k_base')).default;
}

/** The vocabulary file's bytes for o200k_base, from gpt-tokenizer's ranks: what the build writes beside a bundle. */
export function o200kVocabularyFile(): Buffer {
  return serializeVocabulary(vocabularyArraysFromRanks(o200kRanks()));
}

/**
 * The o200k_base vocabulary, read from `dir`'s vocabulary file when there is one (a build's
 * dist/<service>/, the bundle's `__dirname`), else built from gpt-tokenizer's ranks — from the
 * sources (jest, tsx), an older build, or a file this code does not read (a warning says so).
 */
export function loadVocabulary(dir: string): { vocabulary: Vocabulary; source: 'file' | 'ranks' } {
  const path = join(dir, VOCABULARY_FILE_NAME);
  let file: Buffer | undefined;
  try {
    file = readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') process.emitWarning(`${path} unreadable (${(err as Error).message}); o200k_base built from gpt-tokenizer's ranks instead`);
  }
  if (file) {
    try {
      return { vocabulary: new Vocabulary(parseVocabulary(file)), source: 'file' };
    } catch (err) {
      process.emitWarning(`${path}: ${(err as Error).message}; o200k_base built from gpt-tokenizer's ranks instead`);
    }
  }
  return { vocabulary: new Vocabulary(vocabularyArraysFromRanks(o200kRanks())), source: 'ranks' };
}

let vocabulary: Vocabulary | undefined;
function vocab(): Vocabulary {
  return (vocabulary ??= loadVocabulary(__dirname).vocabulary);
}

/**
 * A fresh copy of o200k_base's pre-tokenization regex, the one gpt-tokenizer splits with (a
 * global regex keeps its position in `lastIndex`, so each user needs its own).
 */
export function preTokenRegex(): RegExp {
  return new RegExp(O200K_TOKEN_SPLIT_REGEX.source, O200K_TOKEN_SPLIT_REGEX.flags);
}

// Scratch space reused by every call (JavaScript runs one call at a time; nothing here re-enters).
let bytes = new Uint8Array(1024);
let tok = new Int32Array(1024);
let next = new Int32Array(1025);
let prev = new Int32Array(1024);
let pairRanks = new Int32Array(1024);
let heap = new Float64Array(3 * 1024);
/** Heap keys are rank · 2²⁰ + byte position: the smallest is the lowest rank, leftmost on a tie. */
const POSITION_SPAN = 1 << 20;
/** The longest pre-token `encodePreToken` takes, in UTF-16 code units (≤ 3 bytes each, < 2²⁰ in all). */
export const MAX_PRE_TOKEN_CHARS = Math.floor((POSITION_SPAN - 1) / 3);

function ensureCapacity(maxBytes: number): void {
  if (bytes.length >= maxBytes) return;
  const size = Math.max(maxBytes, bytes.length * 2);
  bytes = new Uint8Array(size);
  tok = new Int32Array(size);
  next = new Int32Array(size + 1);
  prev = new Int32Array(size);
  pairRanks = new Int32Array(size);
  // Each merge pushes at most two keys and a stale key stays until popped: fewer than 3 per byte.
  heap = new Float64Array(3 * size);
}

/**
 * Encodes one pre-token (a match of `preTokenRegex`) exactly as gpt-tokenizer's o200k_base does,
 * in O(m log m) for m UTF-8 bytes, and returns its token count. The token boundaries stay in
 * scratch buffers for `firstTokensByteLength`, until the next call. `v`: the o200k_base vocabulary
 * unless a test compares another.
 */
export function encodePreToken(piece: string, v: Vocabulary = vocab()): number {
  const length = piece.length;
  if (length === 0) return 0;
  if (length > MAX_PRE_TOKEN_CHARS) throw new RangeError(`a pre-token of ${length} code units is too long to encode`);
  ensureCapacity(length * 3);
  const m = writeUtf8(piece, 0, length, bytes, 0);
  // gpt-tokenizer first looks the whole pre-token up by its string, which a lone surrogate never matches.
  if (v.wholeRank(bytes, 0, m) !== NONE && piece.isWellFormed()) {
    next[0] = m;
    return 1;
  }

  // Segments are byte ranges [i, next[i]) holding token tok[i], linked both ways; a merge keeps
  // the left one. pairRanks[i] is the rank of segment i followed by its right neighbour. Only a
  // U+FEFF (the BOM bytes EF BB BF) can make a segment's bytes differ from its token's (see
  // `pairRank`): such a pre-token looks its pairs up by their bytes.
  const byBytes = piece.includes('\ufeff');
  if (!byBytes && m <= SMALL_PRE_TOKEN_BYTES) return scanMerge(v, m);
  let size = 0;
  for (let i = 0; i < m; i++) {
    tok[i] = v.byteRank(bytes[i]);
    next[i] = i + 1;
    prev[i] = i - 1;
  }
  for (let i = 0; i + 1 < m; i++) {
    const r = byBytes ? v.pairRank(bytes, i, i + 2) : v.merged(tok[i], tok[i + 1]);
    pairRanks[i] = r;
    if (r !== NONE) size = heapPush(size, r * POSITION_SPAN + i);
  }
  pairRanks[m - 1] = NONE;

  let count = m;
  while (size > 0) {
    const key = heap[0];
    size = heapPop(size);
    const r = floor(key / POSITION_SPAN);
    const i = key - r * POSITION_SPAN;
    // A stale key: segment i was absorbed, or its pair has changed since.
    if (pairRanks[i] !== r) continue;
    const j = next[i];
    const k = next[j];
    tok[i] = r;
    next[i] = k;
    if (k < m) prev[k] = i;
    pairRanks[j] = NONE;
    count--;
    let right = NONE;
    if (k < m) {
      right = byBytes ? v.pairRank(bytes, i, next[k]) : v.merged(r, tok[k]);
      if (right !== NONE) size = heapPush(size, right * POSITION_SPAN + i);
    }
    pairRanks[i] = right;
    const p = prev[i];
    if (p >= 0) {
      const left = byBytes ? v.pairRank(bytes, p, k) : v.merged(tok[p], r);
      pairRanks[p] = left;
      if (left !== NONE) size = heapPush(size, left * POSITION_SPAN + p);
    }
  }
  return count;
}

/** Up to this many bytes, rescanning the few pairs after each merge is cheaper than a heap. */
const SMALL_PRE_TOKEN_BYTES = 16;

/**
 * gpt-tokenizer's own merge loop, for a short pre-token (no U+FEFF) of m bytes: merge the
 * leftmost lowest-ranked pair until no pair is a token. Segments are linked through `next`.
 */
function scanMerge(v: Vocabulary, m: number): number {
  for (let i = 0; i < m; i++) {
    tok[i] = v.byteRank(bytes[i]);
    next[i] = i + 1;
  }
  for (let i = 0; i + 1 < m; i++) pairRanks[i] = v.merged(tok[i], tok[i + 1]);
  pairRanks[m - 1] = NONE;
  let count = m;
  for (;;) {
    let best = NONE;
    let at = -1;
    let before = -1;
    let beforeBest = -1;
    for (let i = 0; i < m; i = next[i]) {
      const r = pairRanks[i];
      if (r !== NONE && (best === NONE || r < best)) {
        best = r;
        at = i;
        beforeBest = before;
      }
      before = i;
    }
    if (at < 0) return count;
    const j = next[at];
    const k = next[j];
    tok[at] = best;
    next[at] = k;
    count--;
    pairRanks[at] = k < m ? v.merged(best, tok[k]) : NONE;
    if (beforeBest >= 0) pairRanks[beforeBest] = v.merged(tok[beforeBest], best);
  }
}

/** The UTF-8 length of the first `n` tokens of the pre-token `encodePreToken` encoded last. */
export function firstTokensByteLength(n: number): number {
  let at = 0;
  for (let t = 0; t < n; t++) at = next[at];
  return at;
}

function heapPush(size: number, key: number): number {
  let i = size;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent] <= key) break;
    heap[i] = heap[parent];
    i = parent;
  }
  heap[i] = key;
  return size + 1;
}

function heapPop(size: number): number {
  const last = heap[--size];
  let i = 0;
  for (;;) {
    let child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap[child + 1] < heap[child]) child++;
    if (heap[child] >= last) break;
    heap[i] = heap[child];
    i = child;
  }
  heap[i] = last;
  return size;
}
