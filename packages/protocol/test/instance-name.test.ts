import { describe, expect, it } from 'vitest';
import { DEFAULT_INSTANCE_NAME, instanceNameProblem, instanceNameSchema } from '../src/instance-name.js';

describe('the instance-name rule (platform, vipctl, @vip/rmq)', () => {
  it('takes letters, digits, "_", "-" and "." on ZeroMQ (VOLTTRON takes any text there)', () => {
    for (const ok of [DEFAULT_INSTANCE_NAME, 'volttron1', 'site_1-b', 'x.1', 'A'])
      expect(instanceNameProblem(ok, 'zmq'), ok).toBeUndefined();
  });

  it('refuses "." on RabbitMQ (receivers split <instance>.<identity> at the first dot)', () => {
    expect(instanceNameProblem('site1', 'rmq')).toBeUndefined();
    expect(instanceNameProblem('x.1', 'rmq')).toMatch(/must not contain "\." on the rmq bus.*without "\."/);
  });

  it('refuses on both buses what would break RabbitMQ names or file names: empty, wildcards, spaces, slashes, other characters', () => {
    for (const bad of ['', 'a*b', 'a#', 'a b', 'x/y', 'tab\t', 'é', 'a:b', '@x']) {
      for (const bus of ['zmq', 'rmq'] as const)
        expect(instanceNameProblem(bad, bus), `${JSON.stringify(bad)} on ${bus}`).toMatch(/^may use only letters/);
    }
  });

  it('as a zod schema, the problem is the message', () => {
    expect(instanceNameSchema('rmq').safeParse('a.b').error?.issues[0]?.message).toMatch(/on the rmq bus/);
    expect(instanceNameSchema('zmq').parse('a.b')).toBe('a.b');
  });
});
