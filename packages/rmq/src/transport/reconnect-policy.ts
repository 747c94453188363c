import { z } from 'zod';

/**
 * Back-off for broker reconnection (docs/protocol.md 7.7, without VOLTTRON's fixed 30 s):
 * attempt n waits min(cap, initial * factor^(n-1)), then +/- `jitter` of that, never above the cap.
 */
export const ReconnectPolicySchema = z.object({
  initialDelayMs: z.number().int().positive().default(500),
  maxDelayMs: z.number().int().positive().default(4_000),
  factor: z.number().min(1).default(2),
  jitter: z.number().min(0).max(1).default(0.2),
});
export type ReconnectPolicy = z.infer<typeof ReconnectPolicySchema>;
export type ReconnectPolicyInput = z.input<typeof ReconnectPolicySchema>;

/** Delay before reconnect attempt `attempt` (1-based). `random` in [0, 1) is injected for tests. */
export function reconnectDelay(policy: ReconnectPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** Math.max(0, attempt - 1));
  const spread = base * policy.jitter * (2 * random() - 1);
  return Math.max(0, Math.min(policy.maxDelayMs, Math.round(base + spread)));
}
