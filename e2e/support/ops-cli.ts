import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Stack } from '@qv/testing';

/** `npm run ops -- <args>` (scripts/ops.ts) against `stack`, as an operator runs it: its exit code and output. */
export function runOps(stack: Pick<Stack, 'api' | 'adminKey'>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const root = join(__dirname, '..', '..');
  return new Promise((resolve) => {
    const child = spawn(join(root, 'node_modules/.bin/tsx'), [join(root, 'scripts/ops.ts'), ...args], { cwd: root, env: { ...process.env, API_URL: stack.api, ADMIN_API_KEY: stack.adminKey } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
