// Small helpers of the PubSubService tests.
import type { Frame } from '@vip/protocol';

/** Let queued promise callbacks run (deliveries resolve in microtasks). */
export const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

export const hex = (f: Frame | undefined): string => (f ? f.toString('hex') : '<none>');
export const text = (f: Frame | undefined): string => (f ? f.toString('utf8') : '<none>');
