import { randomBytes } from 'node:crypto';
import { Address, TimeoutError } from '@vip/protocol';
import { HelloTimeoutError, type Agent } from '@vip/agent';
import { createRmqAgent } from '@vip/agent/rmq';
import { platformBrokerUser } from '@vip/rmq';
import { createZmqAgent } from '@vip/agent/zmq';
import { defaultLocalAddress, KeyStore, resolveVipHome } from '@vip/auth';
import type { CliOptions } from './args.js';
import { CliError, EXIT } from './exit-codes.js';
import { readBrokerTls } from './broker-tls.js';
import type { HomeConfig } from './home-config.js';
import { ipcListening } from './local-socket.js';
import { describeRmq, resolvePlatformBus, type RmqPlatformBus } from './platform-bus.js';

/** VIP_HOME from --vip-home or the environment. */
export function vipHomeOf(options: CliOptions, env: NodeJS.ProcessEnv): string {
  return options['vip-home'] ?? resolveVipHome(env);
}

/**
 * Connect like VOLTTRON's vctl with a unique `control.connection.<hex>` identity, on the
 * platform's bus (`--message-bus`, else what the platform recorded in VIP_HOME, else the home's
 * config file, else ZeroMQ). ZeroMQ: the platform's own key pair (vipctl runs on the platform's
 * machine with VIP_HOME), the server key from the keystore, over the local ipc address unless
 * --address says otherwise. RabbitMQ: the broker link (@vip/agent/rmq); `control.connection.*` is
 * a platform identity there, which only the platform's broker user proves, so with another login
 * (an agent's certificate, guest) vipctl is `vipctl.<hex>`, unless the platform records a shared login.
 *
 * A platform that is not running is said at once in one line (exit 3): on RabbitMQ when its record
 * says it stopped or its process is gone, on ZeroMQ when nothing listens on the local socket.
 */
export async function connectToPlatform(options: CliOptions, env: NodeJS.ProcessEnv, config: HomeConfig = {}): Promise<Agent> {
  const vipHome = vipHomeOf(options, env);
  const bus = await resolvePlatformBus(options, vipHome, config);
  const id = randomBytes(4).toString('hex');
  const common = {
    identity: bus.bus === 'rmq' && !platformLogin(bus) ? `vipctl.${id}` : `control.connection.${id}`,
    helloTimeoutMs: options['connect-timeout'] * 1000,
    requestTimeoutMs: options.timeout * 1000,
    rpc: { timeoutMs: options.timeout * 1000 },
  };
  if (bus.bus === 'rmq') {
    if (bus.notRunning !== undefined && options['message-bus'] === undefined) {
      throw new CliError(
        `vip-platform is not running on ${vipHome} (RabbitMQ, instance ${bus.instanceName}, vhost ${bus.vhost}: ${bus.notRunning})`,
        EXIT.UNREACHABLE,
      );
    }
    const tls = bus.tls ? { tls: await readBrokerTls(bus.tls) } : {};
    const brokerUser = bus.brokerUser !== undefined ? { brokerUser: bus.brokerUser } : {};
    // The VIP user of vctl on RabbitMQ (`<instance>.control.connection`): the platform's auth.json
    // grants that user the operator capabilities (stats enable/disable...).
    const user = `${bus.instanceName}.control.connection`;
    const agent = createRmqAgent({
      ...common,
      rmq: { url: bus.url, vhost: bus.vhost, instanceName: bus.instanceName, user, ...tls, ...brokerUser },
    });
    return startAgent(agent, describeRmq(bus), options['connect-timeout']);
  }
  const address = options.address ?? env.VIP_ADDRESS ?? config['local-address'] ?? defaultLocalAddress(vipHome);
  const serverKey = addressServerKey(address);
  const platformKeys = await KeyStore.platform(vipHome)
    .load()
    .catch((err: unknown) => {
      throw new CliError(`cannot read the platform keystore in ${vipHome}: ${(err as Error).message}`, EXIT.UNREACHABLE);
    });
  if (!platformKeys) {
    throw new CliError(`no platform keystore in ${vipHome}: start the platform first, or pass --vip-home`, EXIT.UNREACHABLE);
  }
  if ((await ipcListening(address)) === false) {
    throw new CliError(`vip-platform is not running on ${vipHome} (nothing listens on ${address})`, EXIT.UNREACHABLE);
  }
  const agent = await createZmqAgent({
    ...common,
    vipHome,
    address,
    serverKey: serverKey ?? platformKeys.public,
    publicKey: platformKeys.public,
    secretKey: platformKeys.secret,
  }).catch((err: unknown) => {
    throw new CliError(`cannot connect to ${address}: ${(err as Error).message}`, EXIT.UNREACHABLE);
  });
  return startAgent(agent, address, options['connect-timeout']);
}

async function startAgent(agent: Agent, address: string, connectTimeoutS: number): Promise<Agent> {
  try {
    await agent.start();
  } catch (err) {
    await agent.close().catch(() => undefined); // release the half-open connection (a broker link keeps the process alive)
    // By `code`, not class: the transport may come from another copy of @vip/protocol.
    const code = (err as { code?: unknown } | null)?.code;
    if (err instanceof HelloTimeoutError || code === 'VIP_TIMEOUT') {
      throw new CliError(
        `no answer from the platform at ${address} within ${connectTimeoutS} s (is it running? --connect-timeout waits longer)`,
        EXIT.UNREACHABLE,
        { cause: err },
      );
    }
    if (code === 'VIP_AUTH' || code === 'VIP_TRANSPORT') {
      throw new CliError(`the platform at ${address} is not answering: ${(err as Error).message}`, EXIT.UNREACHABLE, { cause: err });
    }
    throw err;
  }
  return agent;
}

/** Whether vipctl logs in as the platform does on RabbitMQ: its broker user (bus.json's URL or certificate), or a shared login. */
function platformLogin(bus: RmqPlatformBus): boolean {
  if (bus.sharedLogin) return true;
  const user = bus.brokerUser ?? (bus.tls?.external ? undefined : decodeURIComponent(new URL(bus.url).username));
  return user === platformBrokerUser(bus.instanceName);
}

/** Map an error to its exit code (timeouts 4, unreachable 3, else 1). */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof TimeoutError) return EXIT.TIMEOUT;
  return EXIT.ERROR;
}

function addressServerKey(address: string): string | undefined {
  try {
    return Address.parse(address).serverkey;
  } catch (err) {
    throw new CliError(`--address: ${(err as Error).message}`, EXIT.USAGE);
  }
}
