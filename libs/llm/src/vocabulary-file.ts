import { createHash } from 'node:crypto';

/**
 * The arrays an o200k_base `Vocabulary` (./bpe) is made of, as one binary file: written once at
 * build time (scripts/build-services.mjs, beside each bundle that counts tokens) so that a running
 * service reads 4.3 MB in ~10 ms instead of requiring gpt-tokenizer's rank table, a JavaScript
 * module of 200k strings that costs ~45 MB resident and ~0.1 s. The hash table is stored too:
 * rebuilding it at load would cost 6-18 ms for no memory saved (it is 2 MB either way).
 *
 * Layout (little-endian; the header is a multiple of 4 bytes, so the Int32 sections are aligned):
 *
 *     magic 'qv-vocab' · version u32 · tokens n u32 · slots s u32 · pool bytes p u32 · sha256 (32 bytes)
 *     start Int32[n + 1] · slots Int32[s] · isString u8[n] · pool u8[p]
 *
 * The sha256 covers everything after the header: a file that is not exactly what the build wrote
 * is refused (and the caller builds from the ranks instead), never half-used.
 */

/** What a `Vocabulary` holds, as its constructor takes it (see `Vocabulary` in ./bpe). */
export interface VocabularyArrays {
  /** Every token's bytes, back to back. */
  pool: Uint8Array;
  /** Token `rank`'s bytes are `pool[start[rank], start[rank + 1])` (empty: no token of that rank). */
  start: Int32Array;
  /** 1 where the rank table holds the token as a string (valid UTF-8), 0 where as raw bytes. */
  isString: Uint8Array;
  /** Open-addressing hash table from a token's bytes to its rank (-1: empty); a power of two long. */
  slots: Int32Array;
}

/** The file's name, beside the bundle (`dist/<service>/`). */
export const VOCABULARY_FILE_NAME = 'o200k_base.vocab';

const MAGIC = 'qv-vocab';
const MAGIC_BYTES = 8;
/** Bump whenever the layout or the meaning of an array changes. */
export const VOCABULARY_FILE_VERSION = 1;
/** Magic, four u32 and the sha256. */
const HEADER_BYTES = 56;

const bytesOf = (a: Int32Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const littleEndianHost = () => new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** The file's bytes for `v`. */
export function serializeVocabulary(v: VocabularyArrays): Buffer {
  const n = v.isString.length;
  if (v.start.length !== n + 1) throw new Error(`vocabulary: ${v.start.length} start offsets for ${n} tokens`);
  if (!littleEndianHost()) throw new Error('vocabulary file: written on little-endian hosts only');
  const sections = [v.start, v.slots, v.isString, v.pool].map(bytesOf);
  const payload = sections.reduce((sum, s) => sum + s.length, 0);
  const out = Buffer.alloc(HEADER_BYTES + payload);
  out.write(MAGIC, 0, 'latin1');
  let at = MAGIC_BYTES;
  for (const value of [VOCABULARY_FILE_VERSION, n, v.slots.length, v.pool.length]) at = out.writeUInt32LE(value, at);
  at += 32;
  for (const s of sections) {
    out.set(s, at);
    at += s.length;
  }
  createHash('sha256').update(out.subarray(HEADER_BYTES)).digest().copy(out, HEADER_BYTES - 32);
  return out;
}

/**
 * The arrays in a vocabulary file's bytes, as views into `file` (no copy, unless `file` is not
 * 4-byte aligned). Throws when the file is not one this code wrote: another format or version,
 * truncated, or altered.
 */
export function parseVocabulary(file: Uint8Array): VocabularyArrays {
  if (!littleEndianHost()) throw new Error('a big-endian host reads no vocabulary file');
  if (file.length < HEADER_BYTES || Buffer.from(file.buffer, file.byteOffset, MAGIC_BYTES).toString('latin1') !== MAGIC) throw new Error('not a vocabulary file');
  // Aligned for the Int32Array views (a Buffer read from a file of this size always is).
  const bytes = file.byteOffset % 4 === 0 ? file : new Uint8Array(file);
  const header = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const [version, n, slots, poolBytes] = [0, 1, 2, 3].map((i) => header.getUint32(MAGIC_BYTES + 4 * i, true));
  if (version !== VOCABULARY_FILE_VERSION) throw new Error(`vocabulary file version ${version}, this code reads ${VOCABULARY_FILE_VERSION}`);
  const expected = HEADER_BYTES + 4 * (n + 1) + 4 * slots + n + poolBytes;
  if (bytes.length !== expected) throw new Error(`vocabulary file of ${bytes.length} bytes, its header says ${expected}`);
  const sum = createHash('sha256').update(bytes.subarray(HEADER_BYTES)).digest();
  if (!sum.equals(bytes.subarray(HEADER_BYTES - 32, HEADER_BYTES))) throw new Error('vocabulary file checksum mismatch');
  if (slots === 0 || (slots & (slots - 1)) !== 0 || slots < n) throw new Error(`vocabulary file: ${slots} hash slots for ${n} tokens`);
  let at = bytes.byteOffset + HEADER_BYTES;
  const start = new Int32Array(bytes.buffer, at, n + 1);
  at += start.byteLength;
  const table = new Int32Array(bytes.buffer, at, slots);
  at += table.byteLength;
  const isString = new Uint8Array(bytes.buffer, at, n);
  at += n;
  const pool = new Uint8Array(bytes.buffer, at, poolBytes);
  if (start[0] !== 0 || start[n] !== poolBytes) throw new Error('vocabulary file: start offsets do not span the pool');
  return { pool, start, isString, slots: table };
}
