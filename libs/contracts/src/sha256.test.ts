import { createHash } from 'node:crypto';
import { sha256Bytes, sha256Hex } from './sha256';

describe('sha256', () => {
  it('is createHash’s SHA-256 of the UTF-8 text, in hex and as bytes', () => {
    for (const text of ['', 'qv_abc', 'é 🙂 \u0000', 'x'.repeat(100_000), '\ud800 lone']) {
      const reference = createHash('sha256').update(text, 'utf8');
      const bytes = reference.copy().digest();
      expect(sha256Hex(text)).toBe(bytes.toString('hex'));
      expect(sha256Bytes(text).equals(bytes)).toBe(true);
    }
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
