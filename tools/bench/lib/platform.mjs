// The platform app (apps/platform/dist/main.js) as a benchmark child: a temporary VIP_HOME,
// the ready line, the platform key pair (admitted by the auth.json written on first start, so
// bench peers can use it), and a stop that also removes the home.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChild } from './processes.mjs';

// Another build (A/B on the same machine state, as pubsub.mjs and rpc.mjs allow):
// BENCH_PLATFORM_MAIN=<dir>/apps/platform/dist/main.js.
export const platformMain =
  process.env.BENCH_PLATFORM_MAIN ?? fileURLToPath(new URL('../../../apps/platform/dist/main.js', import.meta.url));

/**
 * The flags of a platform on RabbitMQ with the shared login (the benches' and soaks' agents log in
 * as the URL's user): `--message-bus rmq`, broker URL, virtual host, management URL, instance name.
 */
export function rmqPlatformArgs({ url, vhost, management, instanceName }) {
  return [
    '--message-bus',
    'rmq',
    '--rmq-url',
    url,
    '--rmq-vhost',
    vhost,
    '--rmq-management-url',
    management,
    '--instance-name',
    instanceName,
    '--rmq-shared-login',
  ];
}

export function platformBuilt() {
  return existsSync(platformMain);
}

/**
 * Starts the platform on `tcp://127.0.0.1:0` (plus `extraArgs`). Resolves with
 * `{ pid, ready, address, serverkey, keys: { public, secret } | undefined, stop() }`;
 * `keys` is undefined when the platform runs without CURVE (`--allow-auth false`).
 * `home`: use this VIP_HOME (made by the caller) instead of a fresh one; `keepHome`: stop()
 * leaves it (to start the platform again on it).
 */
export async function startPlatformApp({
  extraArgs = [],
  readyTimeoutMs = 20_000,
  home: given,
  keepHome = false,
  main = platformMain,
} = {}) {
  const home = given ?? (await mkdtemp(join(tmpdir(), 'vip-bench-')));
  // the environment bin/vip-platform sets (glibc malloc, README "Memory")
  const child = startChild(
    'platform',
    main,
    ['--vip-address', 'tcp://127.0.0.1:0', '--vip-home', home, '--log-level', 'warn', ...extraArgs],
    {
      env: { MALLOC_MMAP_THRESHOLD_: '131072', ...process.env },
    },
  );
  const stop = async () => {
    await child.stop();
    if (!keepHome) await rm(home, { recursive: true, force: true });
  };
  try {
    const ready = await child.line((l) => l.event === 'ready', readyTimeoutMs);
    const keys = ready.serverkey ? JSON.parse(await readFile(join(home, 'keystore'), 'utf8')) : undefined;
    return {
      pid: child.pid,
      ready,
      address: ready.addresses.find((a) => a.startsWith('tcp://')),
      serverkey: ready.serverkey ?? '',
      keys,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
