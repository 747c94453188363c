import { z } from 'zod';
import type { Agent } from '@vip/agent';
import type { CliOptions } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';
import { emit, type CliIo } from '../output.js';

/** One row of `platform.health` `get_platform_health` (VOLTTRON's keys; `last_alert` is vip's). */
const PeerHealthSchema = z.looseObject({
  peer: z.string(),
  service_agent: z.boolean(),
  connected: z.string(),
  last_heartbeat: z.string().optional(),
  message: z.unknown().optional(),
  last_alert: z.looseObject({ key: z.string(), status: z.unknown(), time: z.string() }).optional(),
});
const PlatformHealthSchema = z.record(z.string(), PeerHealthSchema);

const text = (v: unknown): string => (v === undefined ? '-' : typeof v === 'string' ? v : JSON.stringify(v));

/**
 * `health`: each connected agent's last heartbeat status (VOLTTRON's `vctl health`), service
 * agents marked, with its last alert if any; `--json` prints the platform's answer as it is.
 */
export async function healthCommand(agent: Agent, o: CliOptions, io: CliIo): Promise<void> {
  const answer = await agent.rpc.call('platform.health', 'get_platform_health');
  const r = PlatformHealthSchema.safeParse(answer);
  if (!r.success)
    throw new CliError(`platform.health answered something that is not a health report: ${r.error.issues[0]?.message ?? ''}`, EXIT.ERROR);
  const rows = Object.values(r.data).sort((a, b) => Number(b.service_agent) - Number(a.service_agent) || a.peer.localeCompare(b.peer));
  emit(io, o.json, r.data, () => {
    const lines: string[][] = [['IDENTITY', 'SERVICE', 'STATUS', 'LAST HEARTBEAT', 'CONNECTED', 'LAST ALERT']];
    for (const h of rows) {
      const alert = h.last_alert ? `${h.last_alert.key} ${text(h.last_alert.status)} at ${h.last_alert.time}` : '-';
      lines.push([h.peer, h.service_agent ? 'yes' : 'no', text(h.message), h.last_heartbeat ?? '-', h.connected, alert]);
    }
    const widths = lines[0]!.map((_c, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
    return lines.map((l) => l.map((c, i) => (i === l.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
  });
}
