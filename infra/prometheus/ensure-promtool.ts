import { spawnSync } from 'node:child_process';

/** What `ensureDebianPackage` found or did. `reason` says plainly why the tool is missing, when it is. */
export interface EnsureResult {
  available: boolean;
  installed: boolean;
  reason?: string;
}

const works = (bin: string, args: string[]): boolean => spawnSync(bin, args, { stdio: 'ignore' }).status === 0;

/**
 * Makes `bin` available, installing Debian's `pkg` when it is missing (`apt-get update` then
 * `apt-get install -y pkg`). Installing needs root and apt-get; without them the result says why.
 * promtool and prometheus come from Debian's `prometheus` package (2.42 on bookworm).
 */
export function ensureDebianPackage(bin: string, pkg: string, versionArgs: string[] = ['--version']): EnsureResult {
  if (works(bin, versionArgs)) return { available: true, installed: false };
  if (!works('apt-get', ['--version'])) return { available: false, installed: false, reason: `${bin} is missing and this is not a Debian-like system (no apt-get): install ${pkg} by hand` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { available: false, installed: false, reason: `${bin} is missing and installing it needs root: run \`sudo apt-get update && sudo apt-get install -y ${pkg}\`` };
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update'], { encoding: 'utf8', env });
  if (update.status !== 0) return { available: false, installed: false, reason: `apt-get update failed: ${(update.stderr ?? '').trim().slice(-500)}` };
  const install = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { encoding: 'utf8', env });
  if (install.status !== 0) return { available: false, installed: false, reason: `apt-get install ${pkg} failed: ${(install.stderr ?? '').trim().slice(-500)}` };
  return works(bin, versionArgs) ? { available: true, installed: true } : { available: false, installed: true, reason: `${pkg} installed but ${bin} still does not run` };
}

/** promtool, installed from Debian's `prometheus` package when missing. Throws with the reason otherwise. */
export function ensurePromtool(): void {
  const result = ensureDebianPackage('promtool', 'prometheus');
  if (!result.available) throw new Error(result.reason);
}
