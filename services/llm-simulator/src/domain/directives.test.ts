import { MAX_DIRECTIVE_LATENCY_MS, MAX_RUNAWAY_TOKENS, parseDirectives, stripDirectives } from './directives';

describe('parseDirectives', () => {
  it('reads every directive anywhere in the text', () => {
    expect(parseDirectives('a [sim:latency_ms=250] b [sim:status=429] [sim:retry_after=7] [sim:fail_first=2] [sim:fail_until=1700000000000]')).toEqual({
      latencyMs: 250,
      status: 429,
      retryAfterSeconds: 7,
      failFirst: 2,
      failUntil: 1700000000000,
    });
    expect(parseDirectives('no directives here')).toEqual({});
  });

  it('ignores unknown names, unsupported statuses and unreadable values', () => {
    expect(parseDirectives('[sim:status=418] [sim:latency_ms=-5] [sim:fail_first=two] [sim:colour=red]')).toEqual({});
  });

  it('reads fail_nth from 1 on', () => {
    expect(parseDirectives('[sim:fail_nth=3]')).toEqual({ failNth: 3 });
    expect(parseDirectives('[sim:fail_nth=0]')).toEqual({});
    expect(parseDirectives('[sim:cut_first=2]')).toEqual({ cutFirst: 2 });
  });

  it('reads client-error statuses and fail_first_status', () => {
    expect(parseDirectives('[sim:status=400] [sim:fail_first=1] [sim:fail_first_status=429]')).toEqual({ status: 400, failFirst: 1, failFirstStatus: 429 });
  });

  it('reads the kind of a bad usage by name, and no other', () => {
    expect(parseDirectives('[sim:usage=negative]')).toEqual({ badUsage: 'negative' });
    expect(parseDirectives('[sim:usage=text] [sim:usage=1]')).toEqual({ badUsage: 'text' });
    expect(parseDirectives('[sim:usage=free]')).toEqual({});
  });

  it('reads a runaway answer’s length, capped', () => {
    expect(parseDirectives('[sim:runaway_tokens=5000]')).toEqual({ runawayTokens: 5000 });
    expect(parseDirectives('[sim:runaway_tokens=99999999]').runawayTokens).toBe(MAX_RUNAWAY_TOKENS);
  });

  it('caps the latency a directive can ask for', () => {
    expect(parseDirectives('[sim:latency_ms=99999999]').latencyMs).toBe(MAX_DIRECTIVE_LATENCY_MS);
  });

  it('strips directives for analysis only', () => {
    expect(stripDirectives('Hello [sim:status=500] world').replace(/\s+/g, ' ')).toBe('Hello world');
  });
});
