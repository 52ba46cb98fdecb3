import fc from 'fast-check';

/**
 * What a hostile client sends (issue 10): NUL bytes, lone surrogates, 100,001-character runs of one
 * character, integers past 2^31 and 2^53, and shapes that are plausible but for one field.
 */
export const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom('\u0000', 'a\u0000b', '\ud800', 'x\udc00y', '\udbff\udbff', '<script>alert(1)</script>', 'javascript:alert(1)', 'file:///etc/passwd', "'; DROP TABLE users; --", '%00', '..%2f..%2f'),
  fc.nat({ max: 3 }).map((n) => ['a', '中', '\u200d', '😀'][n].repeat(100_001)),
  fc.string({ maxLength: 10 }).map((s) => `${s}\u0000${s}`),
);
export const hostileNumber = fc.oneof(fc.integer(), fc.constantFrom(2 ** 31, 2 ** 31 - 1, 2 ** 53, 2 ** 63, -1, -(2 ** 31), 1e308, 0.5, -0), fc.double({ noNaN: true }));
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(hostileString, hostileNumber, fc.boolean(), fc.constant(null), fc.array(hostileString, { maxLength: 3 }), fc.dictionary(hostileString, hostileString, { maxKeys: 2 }));
/** A body: a plausible shape with any field replaced by hostile values, or anything at all. */
export const bodyOf = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc.oneof(fc.record(Object.fromEntries(Object.keys(fields).map((k) => [k, fc.oneof(fields[k], hostileValue)])), { requiredKeys: [] }), hostileValue);

/** A function name a provider accepts. */
const toolName = fc.constantFrom('get_weather', 'lookup', 'search_docs');
/** A JSON schema of a function's parameters, of a few properties. */
const parametersSchema = fc.dictionary(fc.constantFrom('city', 'id', 'query', 'when'), fc.record({ type: fc.constantFrom('string', 'number'), description: fc.string({ maxLength: 40 }) }), { maxKeys: 3 }).map((properties) => ({ type: 'object', properties }));

/** OpenAI's tool fields: valid definitions and choices, or any field of them hostile. */
export const openAiTools = {
  valid: fc.array(fc.record({ type: fc.constant('function'), function: fc.record({ name: toolName, description: fc.string({ maxLength: 80 }), parameters: parametersSchema }) }), { minLength: 1, maxLength: 3 }),
  choice: fc.constantFrom('auto', 'required', 'none', { type: 'function', function: { name: 'get_weather' } }),
  hostile: fc.array(fc.record({ type: fc.oneof(fc.constant('function'), hostileString), function: fc.oneof(fc.record({ name: hostileString, description: hostileString, parameters: hostileValue }), hostileValue) }), { maxLength: 2 }),
  /** An assistant turn that called a function, and the tool's answer. */
  turn: fc.tuple(toolName, fc.json({ maxDepth: 2 }), fc.string({ maxLength: 60 })).map(([name, args, result]) => [
    { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name, arguments: args } }] },
    { role: 'tool', tool_call_id: 'call_1', content: result },
  ]),
};

/** Anthropic's tool fields: valid definitions, choices and blocks, or any field of them hostile. */
export const anthropicTools = {
  valid: fc.array(fc.record({ name: toolName, description: fc.string({ maxLength: 80 }), input_schema: parametersSchema }), { minLength: 1, maxLength: 3 }),
  choice: fc.oneof(fc.constantFrom({ type: 'auto' }, { type: 'any' }, { type: 'none' }), toolName.map((name) => ({ type: 'tool', name }))),
  hostile: fc.array(fc.record({ name: hostileString, description: hostileString, input_schema: hostileValue }), { maxLength: 2 }),
  /** An assistant turn with a tool_use block, and the user's tool_result. */
  turn: fc.tuple(toolName, fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }), fc.string({ maxLength: 60 })).map(([name, input, result]) => [
    { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_1', name, input }] },
    { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: result }] },
  ]),
  hostileBlock: fc.oneof(
    fc.record({ type: fc.constant('tool_use'), id: hostileString, name: hostileString, input: hostileValue }),
    fc.record({ type: fc.constant('tool_result'), tool_use_id: hostileString, content: hostileValue, is_error: hostileValue }),
  ),
};
