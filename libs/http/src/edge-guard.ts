import type { IncomingMessage } from 'node:http';
import { unsafeTextReason, ValidationError } from '@qv/contracts';
import type { RequestHandler } from 'express';

interface Issue {
  path: string[];
  code: 'invalid_string';
  message: string;
}

/** Set on a request whose JSON body cannot hold an unsafe string (see `noteBodyText`). */
const SAFE_BODY_TEXT = Symbol('safeBodyText');

/**
 * `express.json`'s `verify`: notes a body whose text cannot hold an unsafe string, so that the
 * guard need not walk what it parsed to. JSON can only spell a NUL or a lone surrogate as a `\u`
 * escape (a raw control character is not JSON, and UTF-8 cannot encode a surrogate: the decoder
 * makes U+FFFD of it), so UTF-8 text without a backslash followed by `u` holds neither. Any other
 * charset (UTF-16 can carry a lone surrogate as raw bytes) is walked.
 */
export function noteBodyText(req: IncomingMessage, _res: unknown, raw: Buffer, encoding: string): void {
  noteBodySafety(req, encoding.toLowerCase() !== 'utf-8' || utf8JsonMayHoldUnsafeText(raw));
}

/** The same note from a reader that has already looked at the UTF-8 text (`jsonBodyMiddleware`). */
export function noteBodySafety(req: IncomingMessage, mayHoldUnsafeText: boolean): void {
  if (!mayHoldUnsafeText) (req as IncomingMessage & { [SAFE_BODY_TEXT]?: true })[SAFE_BODY_TEXT] = true;
}

const BACKSLASH_U = Buffer.from('\\u');

/** Whether UTF-8 JSON text may hold a string `unsafeTextReason` refuses (see `noteBodyText`). */
export const utf8JsonMayHoldUnsafeText = (raw: Buffer): boolean => raw.includes(BACKSLASH_U);

/**
 * Refuses, before any route runs, a request whose path, query or JSON body holds a string that
 * cannot be stored as sent (NUL, lone surrogates; see `unsafeTextReason`), or a path that is not
 * valid percent-encoded UTF-8. The route schemas check the same on the fields they know; this
 * covers what they do not see: path segments, free-form JSON (`extract`, cache values), object keys.
 * Linear in the size of the request, and iterative, so a deeply nested body cannot overflow the stack.
 * What cannot hold such a string is not looked into: a path without `%` (node:http refuses a request
 * line with a raw NUL or any byte past ASCII, 400), a URL without a query, a body `noteBodyText`
 * cleared.
 */
export function edgeGuard(): RequestHandler {
  return (req, _res, next) => {
    const issue =
      (req.path.includes('%') ? pathIssue(req.path) : undefined) ??
      (req.url.includes('?') ? firstIssue(req.query, ['query']) : undefined) ??
      ((req as typeof req & { [SAFE_BODY_TEXT]?: true })[SAFE_BODY_TEXT] ? undefined : firstIssue(req.body, ['body']));
    next(issue && refusal(issue));
  };
}

/**
 * The edge guard's refusal of a parsed JSON body, or undefined: for a transport that parses the body
 * itself (direct-routes.ts), whose paths are fixed and carry no query.
 */
export function unsafeBodyError(body: unknown): ValidationError | undefined {
  const issue = firstIssue(body, ['body']);
  return issue && refusal(issue);
}

function refusal(issue: Issue): ValidationError {
  return new ValidationError(`Invalid ${issue.path[0]}: ${issue.path.join('.')} ${issue.message}`, [issue]);
}

function pathIssue(rawPath: string): Issue | undefined {
  for (const segment of rawPath.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return { path: ['path'], code: 'invalid_string', message: 'is not valid percent-encoded UTF-8' };
    }
    const reason = unsafeTextReason(decoded);
    if (reason) return { path: ['path'], code: 'invalid_string', message: reason };
  }
  return undefined;
}

function firstIssue(root: unknown, rootPath: string[]): Issue | undefined {
  const stack: Array<{ value: unknown; path: string[] }> = [{ value: root, path: rootPath }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'string') {
      const reason = unsafeTextReason(value);
      if (reason) return { path, code: 'invalid_string', message: reason };
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, String(i)] });
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        const reason = unsafeTextReason(key);
        if (reason) return { path: [...path, key], code: 'invalid_string', message: `(a key) ${reason}` };
        stack.push({ value: child, path: [...path, key] });
      }
    }
  }
  return undefined;
}
