import type { StatusSnapshot } from '@vip/protocol';
import { StatusSnapshotSchema } from '@vip/protocol/internal';
import type { Agent } from '@vip/agent';
import type { CliOptions } from '../args.js';
import { CliError, EXIT } from '../exit-codes.js';
import type { CliIo } from '../output.js';

/** Seconds between refreshes: the default and the bounds (`--interval`). */
export const TOP_INTERVAL = { default: 2, min: 1, max: 60 } as const;
/** Rate samples asked for on each refresh (the sparkline's width). */
const TOP_SAMPLES = 40;
/** Rows of each table shown at most. */
const TOP_ROWS = 15;
const SPARKS = '▁▂▃▄▅▆▇█';
const CLEAR = '\x1b[H\x1b[2J';

/** One refresh of the board: the `status.snapshot` RPC of `control`, checked against the shared schema. */
async function fetchSnapshot(agent: Agent): Promise<StatusSnapshot> {
  const raw = await agent.rpc.call('control', 'status.snapshot', TOP_SAMPLES);
  const parsed = StatusSnapshotSchema.safeParse(raw);
  if (!parsed.success)
    throw new CliError(`the platform's status board answered something unexpected: ${parsed.error.issues[0]?.message ?? ''}`, EXIT.ERROR);
  return parsed.data;
}

/**
 * `top [--once] [--interval S] [--iterations N]`: the status page's figures in the terminal,
 * refreshed every S seconds (1..60) until Ctrl-C or N refreshes; `--once` prints one and exits
 * (with --json: one snapshot per line).
 */
export async function topCommand(agent: Agent, o: CliOptions, io: CliIo): Promise<void> {
  const interval = o.interval ?? TOP_INTERVAL.default;
  const limit = o.once ? 1 : o.iterations;
  const clear = !o.json && limit !== 1 && io.columns !== undefined;
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    stop();
  };
  process.once('SIGINT', onSigint);
  try {
    for (let n = 0; limit === undefined || n < limit; n++) {
      if (n > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([stopped, new Promise<void>((resolve) => (timer = setTimeout(resolve, interval * 1000)))]);
        clearTimeout(timer);
        if (interrupted) break;
      }
      const snapshot = await fetchSnapshot(agent);
      if (o.json) io.out(JSON.stringify(snapshot));
      else io.out(`${clear ? CLEAR : ''}${renderTop(snapshot, io.columns ?? 100)}`);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** The board as text lines for a terminal `width` columns wide (pure: tested on its own). */
export function renderTop(s: StatusSnapshot, width: number): string {
  const last = s.rates.at(-1);
  const rate = (k: 'messages' | 'deliveries' | 'drops') => (last ? fmt(last[k]) : '-');
  const spark = (k: 'messages' | 'deliveries' | 'drops') =>
    sparkline(
      s.rates.map((r) => r[k]),
      Math.max(10, Math.min(TOP_SAMPLES, width - 30)),
    );
  const lines = [
    `vip ${s.instance}  ${s.bus} bus  version ${s.version}  up ${duration(s.now - s.startedAt)}  peers ${s.peers.length + s.peersOmitted}  topics ${s.topics.length + s.topicsOmitted}`,
    `totals: received ${s.totals.received}  forwarded ${s.totals.forwarded}  published ${s.totals.published}  delivered ${s.totals.delivered}  dropped ${s.totals.dropped}`,
    '',
    `messages/s   ${rate('messages').padStart(8)}  ${spark('messages')}`,
    `deliveries/s ${rate('deliveries').padStart(8)}  ${spark('deliveries')}`,
    `drops/s      ${rate('drops').padStart(8)}  ${spark('drops')}`,
    '',
    ...columns(
      ['PEER', 'USER', 'BUS', 'CONNECTED', 'QUEUED', 'BYTES', 'DROPPED'],
      s.peers
        .slice(0, TOP_ROWS)
        .map((p) => [
          p.identity,
          p.user,
          p.bus,
          duration(s.now - p.connectedSince),
          String(p.queued),
          String(p.queuedBytes),
          String(p.dropped),
        ]),
      s.peers.length + s.peersOmitted,
    ),
    '',
    ...columns(
      ['TOPIC', 'BUS', 'SUBSCRIBERS'],
      s.topics.slice(0, TOP_ROWS).map((t) => [t.prefix, t.bus || '(default)', String(t.subscribers)]),
      s.topics.length + s.topicsOmitted,
    ),
    '',
    s.tracker.enabled
      ? `tracker: on  incoming ${pairs(s.tracker.incoming)}  outgoing ${pairs(s.tracker.outgoing)}  errors ${s.tracker.errors}  unroutable ${s.tracker.unroutable}`
      : 'tracker: off (vipctl stats enable)',
    s.linkedPlatforms.length === 0
      ? 'linked platforms: none'
      : `linked platforms: ${s.linkedPlatforms.map((l) => `${l.instance} ${l.state} (${l.address})`).join(', ')}`,
  ];
  return lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l)).join('\n');
}

function columns(header: readonly string[], rows: readonly (readonly string[])[], total: number): string[] {
  const widths = header.map((h, i) => Math.min(40, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (c.length > (widths[i] as number) ? `${c.slice(0, (widths[i] as number) - 1)}…` : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  if (rows.length === 0) out.push('  (none)');
  if (total > rows.length) out.push(`  … and ${total - rows.length} more`);
  return out;
}

function sparkline(values: readonly number[], width: number): string {
  const shown = values.slice(-width);
  const max = Math.max(0, ...shown);
  return shown
    .map((v) => (max === 0 ? SPARKS[0] : SPARKS[Math.min(SPARKS.length - 1, Math.floor((v / max) * (SPARKS.length - 1)))]))
    .join('');
}

function fmt(n: number): string {
  return n >= 100 ? String(Math.round(n)) : n.toFixed(1);
}

function pairs(m: Record<string, number>): string {
  return (
    Object.entries(m)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ') || '-'
  );
}

function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
