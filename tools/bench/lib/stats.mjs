// Small statistics for benchmark runs.

export function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export function ratio(value, baseline) {
  return Number.isFinite(value) && Number.isFinite(baseline) && baseline > 0 ? value / baseline : NaN;
}

/** 123456.7 -> "123,457". */
export function formatRate(value) {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
}

/**
 * Sequential round trips: `warmup` untimed calls, then `calls` timed one at a time. Rate per
 * second over the whole timed loop, p50 and p99 latency in microseconds.
 */
export async function timeSequentialCalls(call, { warmup, calls }) {
  for (let i = 0; i < warmup; i++) await call();
  const samples = [];
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) {
    const t0 = process.hrtime.bigint();
    await call();
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  samples.sort((a, b) => a - b);
  return { rate: calls / seconds, p50us: samples[Math.floor(samples.length / 2)], p99us: samples[Math.floor(samples.length * 0.99)] };
}
