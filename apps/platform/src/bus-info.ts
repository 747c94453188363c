import { join } from 'node:path';
import { writeFileAtomic } from '@vip/auth';
import type { RmqTlsFiles } from './rmq-tls.js';

/**
 * What a running platform tells local tools about its bus: `$VIP_HOME/run/bus.json`, written
 * once the platform is ready, replaced by a StoppedBusInfo on a clean stop (vipctl also knows a
 * record whose `pid` is gone for a stopped platform).
 * The RabbitMQ URL carries the broker credentials the platform itself uses (by default its own
 * user `<instance>.router` with this run's password; vipctl logs in with it), so the file is 0600
 * inside the 0700 home (VOLTTRON keeps them in `$VOLTTRON_HOME/rabbitmq_config.yml`).
 * `management` (when the platform uses the management API) lets `vipctl auth add --identity`
 * create per-agent broker users; its password is the platform's too. `tls` (amqps) records the
 * certificate and key FILES (paths, never their contents) and the EXTERNAL flag, so vipctl on this
 * home logs in with the same client certificate; `brokerUser` is the user that certificate maps to.
 * `tls.caKey` (`--rmq-ca-key`, a path) lets vipctl sign agents' client certificates on an EXTERNAL broker.
 */
export interface BusInfo {
  readonly bus: 'rmq';
  readonly url: string;
  readonly vhost: string;
  readonly instance: string;
  readonly pid: number;
  readonly management?: { readonly baseUrl: string; readonly user: string; readonly password: string };
  readonly tls?: RmqTlsFiles;
  readonly brokerUser?: string;
  /** `--rmq-shared-login`: everyone shares the URL's login, nothing is proven (agents on own users then need `senderProof: 'optional'`). */
  readonly sharedLogin?: true;
  /** `--rmq-failover-urls`: the other nodes of the broker's cluster (no credentials). */
  readonly failoverUrls?: readonly string[];
}

/**
 * What a clean stop leaves in `run/bus.json`: that this home's platform runs on RabbitMQ, where,
 * and that it is stopped, so vipctl says "not running" at once instead of trying ZeroMQ. No
 * secret stays behind: the URL without credentials, no management login, no TLS files.
 */
export interface StoppedBusInfo {
  readonly bus: 'rmq';
  readonly url: string;
  readonly vhost: string;
  readonly instance: string;
  readonly pid: number;
  /** When it stopped (ISO 8601). */
  readonly stopped: string;
}

export function busInfoPath(vipHome: string): string {
  return join(vipHome, 'run', 'bus.json');
}

export async function writeBusInfo(vipHome: string, info: BusInfo | StoppedBusInfo): Promise<void> {
  await writeFileAtomic(busInfoPath(vipHome), `${JSON.stringify(info)}\n`, { mode: 0o600 });
}

/** The record a clean stop leaves of a running one (credentials dropped). */
export function stoppedBusInfo(info: BusInfo, at: Date = new Date()): StoppedBusInfo {
  const url = new URL(info.url);
  return {
    bus: 'rmq',
    url: `${url.protocol}//${url.host}`,
    vhost: info.vhost,
    instance: info.instance,
    pid: info.pid,
    stopped: at.toISOString(),
  };
}
