/** Display helpers shared by both views. */
export const num = (n: number) => n.toLocaleString('en-US');
export const limitText = (n: number | null) => (n === null ? '∞' : num(n));
export const usd = (n: number) => `$${n.toFixed(n !== 0 && Math.abs(n) < 0.01 ? 5 : 2)}`;
export const time = (iso: string) => new Date(iso).toLocaleString('en-GB', { hour12: false });
export const percent = (ratio: number) => `${(ratio * 100).toFixed(1)} %`;

/** 7,384 s → "2h 03m 04s"; under a minute → "42s". */
export function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.ceil(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) return `${h}h ${String(m).padStart(2, '0')}m ${String(sec).padStart(2, '0')}s`;
  if (m) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}
