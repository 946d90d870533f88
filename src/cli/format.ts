/** 12345 -> "12,345" */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** 1234 ms -> "1.2 s" */
export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** "1 migration", "2 migrations" */
export function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? '' : 's'}`;
}
