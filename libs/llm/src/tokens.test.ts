import { encodeChat } from 'gpt-tokenizer/cjs/model/gpt-4o';
import { countChatTokens, countTokens, truncateToTokens } from './tokens';

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

describe('countChatTokens', () => {
  const messages = [
    { role: 'system' as const, content: 'You are helpful.' },
    { role: 'user' as const, content: 'hello world' },
  ];

  it('is 3 per message + role + content, plus 3 for the reply', () => {
    // 3 + (3 + 1 + 4) + (3 + 1 + 2)
    expect(countChatTokens(messages)).toBe(17);
    expect(countChatTokens([])).toBe(3);
  });

  it('agrees with gpt-tokenizer’s own gpt-4o chat encoding', () => {
    const long = [
      { role: 'system' as const, content: 'Summarize.\nAnswer in JSON.' },
      { role: 'user' as const, content: 'Quota Vault charges every AI call before it is made. '.repeat(40) },
      { role: 'assistant' as const, content: '{"summary":"ok"}' },
    ];
    expect(countChatTokens(long)).toBe(encodeChat(long).length);
  });
});

describe('truncateToTokens', () => {
  it('keeps a prefix of at most n tokens', () => {
    const text = 'The quick brown fox jumps over the lazy dog.';
    expect(truncateToTokens(text, 3)).toBe('The quick brown');
    expect(truncateToTokens(text, 100)).toBe(text);
    expect(truncateToTokens(text, 0)).toBe('');
  });
});
