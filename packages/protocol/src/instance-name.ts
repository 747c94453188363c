import { z } from 'zod';

/** The instance name of a platform given none (VOLTTRON's `vcfg` proposes `volttron1`). */
export const DEFAULT_INSTANCE_NAME = 'vip1';

/** The bus an instance name is checked for. */
export type InstanceNameBus = 'zmq' | 'rmq';

const INSTANCE_NAME_CHARS = /^[A-Za-z0-9_.-]+$/;

/**
 * The one instance-name rule (vip-platform's `--instance-name`, vipctl's, `@vip/rmq`'s link
 * options and routing keys): at least one letter, digit, `_`, `-` or `.`, and no `.` on RabbitMQ.
 * Every such name is one VOLTTRON accepts (on ZeroMQ it takes any text, its default is the first
 * VIP address; on RabbitMQ receivers split `<instance>.<identity>` at the first dot, docs/protocol.md
 * 7.2) and is safe in RabbitMQ's names: no topic wildcard (`*`, `#`) in routing and binding keys,
 * no space, no `/` (the vhost defaults to the instance name; certificate files are named after it).
 * Returns why `name` is refused, or undefined.
 */
export function instanceNameProblem(name: string, bus: InstanceNameBus): string | undefined {
  if (!INSTANCE_NAME_CHARS.test(name)) return `may use only letters, digits, "_", "-" and "." (got ${JSON.stringify(name)})`;
  if (bus === 'rmq' && name.includes('.')) {
    return (
      'must not contain "." on the rmq bus: RabbitMQ names are <instance>.<identity>, split at the first dot ' +
      '(name the instance without ".")'
    );
  }
  return undefined;
}

/** `instanceNameProblem` as a zod string schema (the problem is the issue's message). */
export function instanceNameSchema(bus: InstanceNameBus): z.ZodType<string, string> {
  return z.string().superRefine((name, ctx) => {
    const problem = instanceNameProblem(name, bus);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });
}
