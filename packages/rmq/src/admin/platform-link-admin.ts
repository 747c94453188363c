import { VOLTTRON_EXCHANGE } from '../transport/amqp-mapping.js';
import { RmqSetupError } from '../transport/rmq-errors.js';
import type { RabbitMqManagement } from './rabbitmq-management.js';
import {
  FEDERATION_POLICY,
  federationPolicy,
  federationUpstreams,
  redactUri,
  shovelSpecs,
  type FederationConfig,
  type ShovelConfig,
} from './platform-links.js';

/** What applying one link did: VOLTTRON overwrote silently; here a changed value is said. */
export type LinkChange = 'created' | 'unchanged' | 'updated';

export interface AppliedLink {
  readonly name: string;
  readonly change: LinkChange;
}

/** A link as the broker reports it: `running`, `starting`, `down` (configured, no live link), or the plugin's own words. */
export interface LinkStatus {
  readonly name: string;
  readonly kind: 'federation' | 'pubsub' | 'rpc' | 'shovel';
  readonly state: string;
  /** Where it goes (credentials replaced by ***). */
  readonly uri: string;
  readonly error?: string;
}

/** Key order does not matter for the broker: compare values by their sorted JSON. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

async function put(api: RabbitMqManagement, component: string, vhost: string, name: string, value: unknown): Promise<LinkChange> {
  const now = await api.getParameter(component, vhost, name);
  if (now !== undefined && canonical(now) === canonical(value)) return 'unchanged';
  await api.setParameter(component, vhost, name, value);
  return now === undefined ? 'created' : 'updated';
}

/**
 * Set up federation from the file's upstreams on `vhost` (idempotent): each upstream parameter,
 * then the `volttron-federation` policy. The local `volttron` exchange then receives what its
 * bindings ask for from every upstream's `volttron` exchange (all-platforms subscriptions).
 */
export async function applyFederation(api: RabbitMqManagement, vhost: string, config: FederationConfig): Promise<AppliedLink[]> {
  const out: AppliedLink[] = [];
  for (const u of federationUpstreams(config))
    out.push({ name: u.name, change: await put(api, 'federation-upstream', vhost, u.name, u.value) });
  if (out.length > 0) {
    const policy = federationPolicy();
    const now = (await api.getPolicy(vhost, FEDERATION_POLICY)) as Record<string, unknown> | undefined;
    const same =
      now !== undefined &&
      canonical({ pattern: now.pattern, definition: now.definition, priority: now.priority, 'apply-to': now['apply-to'] }) ===
        canonical(policy);
    if (!same) await api.setPolicy(vhost, FEDERATION_POLICY, policy);
    out.push({ name: FEDERATION_POLICY, change: same ? 'unchanged' : now === undefined ? 'created' : 'updated' });
  }
  return out;
}

/** Remove one upstream (absent is fine); the policy goes with the last upstream. Returns whether the policy was removed. */
export async function removeFederationUpstream(api: RabbitMqManagement, vhost: string, name: string): Promise<boolean> {
  await api.deleteParameter('federation-upstream', vhost, name);
  if ((await api.listParameters('federation-upstream', vhost)).length > 0) return false;
  await api.deletePolicy(vhost, FEDERATION_POLICY);
  return true;
}

/**
 * Create or update the file's shovels on `vhost` (idempotent). `localUri`: how they read this
 * broker (default `amqp:///<vhost>`). Unlike VOLTTRON's (source exchange and key, which makes the
 * shovel a server-named queue that dies with its connection: what is published while the link
 * restarts is lost), each shovel reads a durable queue of its own name bound to `volttron` with
 * VOLTTRON's key, declared here, so a cut link (or the shovel plugin restarted) loses nothing;
 * the routing key travels unchanged. `ack-mode: on-confirm`: the source queue drops a message only
 * once the destination broker confirmed it. What was sent but not yet confirmed when the link was
 * cut is sent again; `add-forward-headers` marks every shovelled message (`x-shovelled`) so a
 * persistent subscriber drops such a repeat of one it passed on (recent-ids.ts).
 */
export async function applyShovels(
  api: RabbitMqManagement,
  vhost: string,
  instance: string,
  config: ShovelConfig,
  localUri?: string,
): Promise<AppliedLink[]> {
  const out: AppliedLink[] = [];
  for (const s of shovelSpecs(config, instance, localUri ?? `amqp:///${encodeURIComponent(vhost)}`)) {
    await api.ensureDurableQueue(vhost, s.name);
    await api.bindQueue(vhost, s.value['src-exchange'], s.name, s.value['src-exchange-key']);
    const value = {
      'src-uri': s.value['src-uri'],
      'src-queue': s.name,
      'dest-uri': s.value['dest-uri'],
      'dest-exchange': s.value['dest-exchange'],
      'ack-mode': 'on-confirm',
      'add-forward-headers': true,
    };
    out.push({ name: s.name, change: await put(api, 'shovel', vhost, s.name, value) });
  }
  return out;
}

/** Remove a shovel and its source queue (what it still held goes with it); absent is fine. */
export async function removeShovel(api: RabbitMqManagement, vhost: string, name: string): Promise<void> {
  await api.deleteParameter('shovel', vhost, name);
  await api.deleteQueue(vhost, name);
}

function text(v: unknown): string | undefined {
  return typeof v === 'string' ? v : v === undefined || v === null ? undefined : JSON.stringify(v);
}

/**
 * The plugin's live links of `vhost`. While the federation or shovel plugin is off (restarted, or
 * never enabled) the broker keeps the configured links but its management endpoint for their state
 * is gone (it answers 404 or 406): then there are no live links, and `missing` says why, so a
 * status shows every configured link down instead of failing.
 */
async function liveLinks(
  api: RabbitMqManagement,
  kind: 'federation-links' | 'shovels',
  vhost: string,
): Promise<{ rows: unknown[]; missing?: string }> {
  try {
    return { rows: await api.listLinkState(kind, vhost) };
  } catch (err) {
    if (!(err instanceof RmqSetupError) || err.missing !== 'broker') throw err;
    const plugin = kind === 'shovels' ? 'rabbitmq_shovel' : 'rabbitmq_federation';
    return { rows: [], missing: `the broker reports no link state (is ${plugin} running, with ${plugin}_management?)` };
  }
}

/** Every configured upstream of `vhost` with the state of its link (`down` when the plugin has none running). */
export async function federationStatus(api: RabbitMqManagement, vhost: string): Promise<LinkStatus[]> {
  const [names, live] = await Promise.all([api.listParameters('federation-upstream', vhost), liveLinks(api, 'federation-links', vhost)]);
  return names.sort().map((name) => {
    const link = live.rows.find((l) => (l as { upstream?: unknown }).upstream === name) as Record<string, unknown> | undefined;
    const error = text(link?.error) ?? live.missing;
    return {
      name,
      kind: 'federation' as const,
      state: text(link?.status) ?? 'down',
      uri: redactUri(text(link?.uri) ?? ''),
      ...(error ? { error } : {}),
    };
  });
}

/** Every shovel parameter of `vhost` with its state (`down` when the plugin reports none). */
export async function shovelStatus(api: RabbitMqManagement, vhost: string): Promise<LinkStatus[]> {
  const [names, live, bindings] = await Promise.all([
    api.listParameters('shovel', vhost),
    liveLinks(api, 'shovels', vhost),
    api.listBindings(vhost, VOLTTRON_EXCHANGE),
  ]);
  const out: LinkStatus[] = [];
  for (const name of names.sort()) {
    const row = live.rows.find((r) => (r as { name?: unknown }).name === name) as Record<string, unknown> | undefined;
    const value = (await api.getParameter('shovel', vhost, name)) as Record<string, unknown> | undefined;
    const key = text(value?.['src-exchange-key']) ?? bindings.find((b) => b.destination === name)?.routingKey ?? '';
    const error = text(row?.reason) ?? live.missing;
    out.push({
      name,
      kind: key.startsWith('__pubsub__.') ? 'pubsub' : 'rpc',
      state: text(row?.state) ?? 'down',
      uri: redactUri(text(value?.['dest-uri']) ?? ''),
      ...(error ? { error } : {}),
    });
  }
  return out;
}
