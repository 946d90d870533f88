/**
 * Latency summaries without a histogram library: every latency of a run is kept (a 15 s run at a few
 * thousand requests a second is a few hundred thousand doubles) and sorted once.
 */

export interface LatencySummary {
  count: number;
  /** Milliseconds. */
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function summarize(latencies: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(latencies).sort();
  let total = 0;
  for (let i = 0; i < sorted.length; i++) total += sorted[i];
  return {
    count: sorted.length,
    mean: sorted.length ? total / sorted.length : NaN,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length ? sorted[sorted.length - 1] : NaN,
  };
}

/** A growable list of doubles (latencies in ms) that does not box each number. */
export class Samples {
  private buf = new Float64Array(1 << 16);
  length = 0;

  push(value: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = value;
  }

  values(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
}
