import { unsafeTextReason, ValidationError } from '@qv/contracts';
import type { RequestHandler } from 'express';

interface Issue {
  path: string[];
  code: 'invalid_string';
  message: string;
}

/**
 * Refuses, before any route runs, a request whose path, query or JSON body holds a string that
 * cannot be stored as sent (NUL, lone surrogates; see `unsafeTextReason`), or a path that is not
 * valid percent-encoded UTF-8. The route schemas check the same on the fields they know; this
 * covers what they do not see: path segments, free-form JSON (`extract`, cache values), object keys.
 * Linear in the size of the request, and iterative, so a deeply nested body cannot overflow the stack.
 */
export function edgeGuard(): RequestHandler {
  return (req, _res, next) => {
    const issue = pathIssue(req.path) ?? firstIssue(req.query, ['query']) ?? firstIssue(req.body, ['body']);
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
