import { encodeChat } from 'gpt-tokenizer/cjs/model/gpt-4o';
import { PATHOLOGICAL_CORPORA, prose } from './testing';
import { countChatTokensBounded, countTokens, countTokensBounded, countTokensBoundedAsync, LONG_PRE_TOKEN_CHARS, TOKEN_COUNT_SLICE_CHARS, truncateToTokens } from './tokens';

describe('countTokens (o200k_base)', () => {
  it('counts real BPE tokens', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('hello world')).toBe(2);
    expect(countTokens('The quick brown fox jumps over the lazy dog.')).toBe(10);
  });

  it('counts special-token text as plain text instead of throwing', () => {
    expect(countTokens('<|endoftext|>')).toBe(7);
  });
});

describe('countTokensBounded', () => {
  it('is the exact count for ordinary text', () => {
    expect(countTokensBounded('')).toBe(0);
    expect(countTokensBounded('hello world')).toBe(2);
    expect(countTokensBounded('The quick brown fox jumps over the lazy dog.')).toBe(10);
    for (const text of [
      prose(20_000),
      'Quota Vault 在每次调用之前按计划收费，缓存安全的结果，并在只追加的账本中结算确切的令牌数。',
      'Die Donaudampfschifffahrtsgesellschaftskapitänsmütze liegt auf dem Tisch. Ça coûte 12,50 € — très cher !',
      'Квота проверяется до вызова. ครับ ขอบคุณมาก 👋🏽 שלום עולם مرحبا بالعالم',
      'function f(x) {\n\treturn x ** 2; // 😀\n}\n\n\n    indented\r\n',
    ]) {
      expect(countTokensBounded(text)).toBe(countTokens(text));
    }
  });

  it('counts special-token text as plain text, as countTokens does', () => {
    expect(countTokensBounded('<|endoftext|>')).toBe(7);
    const text = 'a <|im_start|>user<|im_sep|>x<|im_end|> <|fim_prefix|><|endofprompt|>';
    expect(countTokensBounded(text)).toBe(countTokens(text));
  });

  it('follows gpt-tokenizer even where it drops a byte-order mark while merging', () => {
    const text = '\ufeffusing System;\n\ufeff\ufeff// x \ufeff\n\n\ufeffnamespace 출장안마\ufeff#';
    expect(countTokensBounded(text)).toBe(countTokens(text));
  });

  it('bounds a pre-token longer than LONG_PRE_TOKEN_CHARS by its UTF-8 length', () => {
    const run = 'a'.repeat(LONG_PRE_TOKEN_CHARS + 1);
    expect(countTokensBounded(run)).toBe(run.length);
    expect(countTokensBounded(run)).toBeGreaterThanOrEqual(countTokens(run));
    const exactRun = 'a'.repeat(LONG_PRE_TOKEN_CHARS);
    expect(countTokensBounded(exactRun)).toBe(countTokens(exactRun));
    const emoji = '😀'.repeat(LONG_PRE_TOKEN_CHARS);
    expect(countTokensBounded(emoji)).toBe(4 * LONG_PRE_TOKEN_CHARS);
  });

  it.each(Object.keys(PATHOLOGICAL_CORPORA))('counts 100,000 characters of %s', (name) => {
    const text = PATHOLOGICAL_CORPORA[name](100_000);
    expect(text.length).toBe(100_000);
    const n = countTokensBounded(text);
    expect(n).toBeGreaterThan(0);
    // Never more than the UTF-8 bytes (every token is at least one byte).
    expect(n).toBeLessThanOrEqual(Buffer.byteLength(text));
  });
});

describe('countTokensBoundedAsync', () => {
  it.each(['prose', ...Object.keys(PATHOLOGICAL_CORPORA)])('gives countTokensBounded’s number for 100,000 characters of %s', async (name) => {
    const text = name === 'prose' ? prose(100_000) : PATHOLOGICAL_CORPORA[name](100_000);
    expect(await countTokensBoundedAsync(text)).toBe(countTokensBounded(text));
  });

  it('lets the event loop run between slices, and interleaved counts do not disturb each other', async () => {
    const text = prose(10 * TOKEN_COUNT_SLICE_CHARS);
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    const [a, b] = await Promise.all([countTokensBoundedAsync(text), countTokensBoundedAsync(text.slice(1000))]);
    clearInterval(ticker);
    expect(a).toBe(countTokensBounded(text));
    expect(b).toBe(countTokensBounded(text.slice(1000)));
    expect(turns).toBeGreaterThan(0);
    expect(await countTokensBoundedAsync('hello world')).toBe(2);
  });
});

describe('countChatTokensBounded', () => {
  const messages = [
    { role: 'system' as const, content: 'You are helpful.' },
    { role: 'user' as const, content: 'hello world' },
  ];

  it('is 3 per message + role + content, plus 3 for the reply', () => {
    // 3 + (3 + 1 + 4) + (3 + 1 + 2)
    expect(countChatTokensBounded(messages)).toBe(17);
    expect(countChatTokensBounded([])).toBe(3);
  });

  it('agrees with gpt-tokenizer’s own gpt-4o chat encoding', () => {
    const long = [
      { role: 'system' as const, content: 'Summarize.\nAnswer in JSON.' },
      { role: 'user' as const, content: 'Quota Vault charges every AI call before it is made. '.repeat(40) },
      { role: 'assistant' as const, content: '{"summary":"ok"}' },
    ];
    expect(countChatTokensBounded(long)).toBe(encodeChat(long).length);
  });
});

describe('truncateToTokens', () => {
  it('keeps a prefix of at most n tokens', () => {
    const text = 'The quick brown fox jumps over the lazy dog.';
    expect(truncateToTokens(text, 3)).toBe('The quick brown');
    expect(truncateToTokens(text, 100)).toBe(text);
    expect(truncateToTokens(text, 0)).toBe('');
  });

  it('cuts inside a pre-token on a token boundary', () => {
    // 'Donaudampfschifffahrt' is several tokens: the cut keeps the first ones.
    const text = 'Die Donaudampfschifffahrt';
    const cut = truncateToTokens(text, 2);
    expect(text.startsWith(cut)).toBe(true);
    expect(cut.length).toBeGreaterThan('Die'.length);
    expect(countTokens(cut)).toBe(2);
  });

  it.each(Object.keys(PATHOLOGICAL_CORPORA))('cuts 100,000 characters of %s to a prefix of at most n bounded tokens', (name) => {
    const text = PATHOLOGICAL_CORPORA[name](100_000);
    for (const n of [1, 7, 32, 1000]) {
      const cut = truncateToTokens(text, n);
      expect(text.startsWith(cut)).toBe(true);
      // A code point is at most 4 bytes, so 4 tokens always keep one.
      if (n >= 4) expect(cut.length).toBeGreaterThan(0);
      expect(countTokensBounded(cut)).toBeLessThanOrEqual(n);
    }
    expect(truncateToTokens(text, Buffer.byteLength(text))).toBe(text);
  });
});
