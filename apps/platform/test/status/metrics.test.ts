import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { metricNames } from '../../src/status/metrics.js';

const readme = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');

describe('/metrics names', () => {
  it('are stable and documented: each one in the platform README table and the root README list', () => {
    const names = [...new Set([...metricNames('zmq'), ...metricNames('rmq')])];
    const platform = readme('../../README.md');
    const root = readme('../../../../README.md');
    for (const name of names) {
      expect(platform, name).toContain(`\`${name}`);
      expect(root, name).toContain(`\`${name}`);
      expect(name).toMatch(/^vip_[a-z_]+$/);
    }
    expect(metricNames('zmq').some((n) => n.startsWith('vip_rmq_'))).toBe(false);
    expect(metricNames('rmq').some((n) => n.startsWith('vip_zmq_'))).toBe(false);
  });
});
