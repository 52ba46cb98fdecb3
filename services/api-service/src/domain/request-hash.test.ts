import { requestHash } from './request-hash';

describe('requestHash', () => {
  it('ignores key order and undefined fields', () => {
    expect(requestHash('POST', '/v1/items', { content: 'a', tasks: ['tag'], title: undefined })).toBe(requestHash('POST', '/v1/items', { tasks: ['tag'], content: 'a' }));
  });
  it('differs for another body, array order, method or path', () => {
    const base = requestHash('POST', '/v1/items', { content: 'a', tasks: ['tag', 'summarize'] });
    expect(requestHash('POST', '/v1/items', { content: 'b', tasks: ['tag', 'summarize'] })).not.toBe(base);
    expect(requestHash('POST', '/v1/items', { content: 'a', tasks: ['summarize', 'tag'] })).not.toBe(base);
    expect(requestHash('PUT', '/v1/items', { content: 'a', tasks: ['tag', 'summarize'] })).not.toBe(base);
    expect(requestHash('POST', '/v1/other', { content: 'a', tasks: ['tag', 'summarize'] })).not.toBe(base);
  });
});
