import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beamVmsUnder, killQuietly, processAlive } from './private-rabbitmq-runs.js';

/**
 * A second, private RabbitMQ node with an amqps listener (client certificates required, SASL
 * EXTERNAL, user = certificate CN), for tests; the main broker on 5672/15672 is not touched.
 *
 * How it runs on Debian: /usr/sbin/rabbitmq-server and rabbitmqctl are a wrapper that, as root,
 * does `su rabbitmq` (cd /var/lib/rabbitmq, the main broker's Erlang cookie, every file must then
 * belong to rabbitmq). We call the real scripts in /usr/lib/rabbitmq/bin instead, as the current
 * user, with HOME = the node directory: the node and our rabbitmqctl calls share a cookie of their
 * own there, and nothing needs a chown. rabbitmqctl reaches the node by `-n <name>` through the
 * shared epmd (port 4369, started by the main broker or by this node).
 *
 * Every node lives in NODES_DIR/<pid>-<hex> and is named vip-tls-<pid>-<hex>@localhost; a node
 * whose test process is gone (a crashed run) is killed and its directory removed at the next start.
 */
const NODES_DIR = join(tmpdir(), 'vip-rmq-tls-nodes');
const START_TIMEOUT_S = 60;
const STOP_TIMEOUT_MS = 30_000;
const run = promisify(execFile);

/** The CN of the client certificates (users are named after it: ssl_cert_login_from = common_name). */
export const TLS_CLIENTS = {
  agent: 'inst.tls-agent',
  router: 'inst.router',
  /** Signed by the node's CA, but no broker user has this name. */
  nobody: 'inst.nobody',
} as const;

export interface TlsPem {
  /** The CA that signed the broker and client certificates. */
  readonly ca: string;
  /** A CA that signed nothing the broker knows. */
  readonly otherCa: string;
  readonly client: Record<keyof typeof TLS_CLIENTS, { readonly cert: string; readonly key: string }>;
  /** CN `inst.tls-agent`, signed by `otherCa`: the broker must refuse it. */
  readonly foreignClient: { readonly cert: string; readonly key: string };
}

/** Opt-in extras of startTlsNode (default: none, the node as every existing caller knows it). */
export interface TlsNodeOptions {
  /**
   * Enable rabbitmq_management on a free 127.0.0.1 port (never 15672: the main broker's) with an
   * administrator user of its own, for tests of code that manages broker users. Adds ~1-2 s to the boot.
   */
  readonly management?: boolean;
}

/** The node's management API (only with `management: true`). */
export interface TlsNodeManagement {
  /** `http://127.0.0.1:<port>`, no credentials. */
  readonly baseUrl: string;
  readonly port: number;
  /** A password user with the administrator tag and full rights on the vhost (PLAIN over HTTP basic auth). */
  readonly user: string;
  readonly password: string;
  /** `http://user:password@127.0.0.1:<port>`, the shape `--rmq-management-url` takes. */
  readonly urlWithLogin: string;
}

export interface TlsNode {
  readonly nodeName: string;
  readonly dir: string;
  readonly logFile: string;
  /** Plain AMQP on 127.0.0.1 (guest; RabbitMQ needs one TCP listener, tests use amqps). */
  readonly amqpPort: number;
  readonly amqpsPort: number;
  readonly amqpsUrl: string;
  readonly pem: TlsPem;
  /** The same CA as files: its certificate and (unencrypted PEM) private key, to sign more client certificates. */
  readonly caFiles: { readonly cert: string; readonly key: string };
  /** Set when started with `management: true`. */
  readonly management?: TlsNodeManagement;
  /** From spawning rabbitmq-server to `rabbitmqctl wait` returning (~3.5 s on an idle machine). */
  readonly startupMs: number;
  ctl(...args: string[]): Promise<string>;
  /** Stop (bounded), kill what is left, remove the directory. Idempotent. */
  stop(): Promise<void>;
}

function bin(name: string): string {
  const real = `/usr/lib/rabbitmq/bin/${name}`; // Debian/Ubuntu: bypass the su wrapper (see above)
  return existsSync(real) ? real : name;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Pids of the Erlang VMs whose home directory is under NODES_DIR (the `-home <dir>` argument). */
const nodeVms = () => beamVmsUnder(NODES_DIR);
const alive = processAlive; // a gone owner: whatever it started is stale
const kill = killQuietly;

/** Kill nodes of test processes that no longer run and remove their directories. */
async function reapLeftovers(): Promise<string[]> {
  const owner = (dir: string) => Number(dir.split('/').pop()?.split('-')[0]);
  const reaped: string[] = [];
  for (const vm of await nodeVms()) {
    if (!alive(owner(vm.home))) {
      kill(vm.pid);
      reaped.push(vm.home);
    }
  }
  for (const d of await readdir(NODES_DIR).catch(() => [] as string[])) {
    if (!alive(owner(join(NODES_DIR, d)))) await rm(join(NODES_DIR, d), { recursive: true, force: true });
  }
  return reaped;
}

async function makeCertificates(dir: string): Promise<TlsPem> {
  const ssl = (...args: string[]) => run('openssl', args, { cwd: dir, timeout: 30_000 });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string) =>
    ssl('req', '-x509', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', `/CN=vip test ${name}`);
  const leaf = async (name: string, cn: string, signer: string, ext?: string) => {
    await ssl('req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    await ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${signer}.crt`,
      '-CAkey',
      `${signer}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '1',
      ...(ext ? ['-extfile', ext] : []),
    );
  };
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await Promise.all([ca('ca'), ca('other-ca')]);
  // Sequential per CA: -CAcreateserial writes one serial file per CA.
  await (async () => {
    await leaf('server', '127.0.0.1', 'ca', 'server.ext');
    for (const [k, cn] of Object.entries(TLS_CLIENTS)) await leaf(`client-${k}`, cn, 'ca');
  })();
  await leaf('foreign', TLS_CLIENTS.agent, 'other-ca');
  const read = (f: string) => readFile(join(dir, f), 'utf8');
  const pair = async (n: string) => ({ cert: await read(`${n}.crt`), key: await read(`${n}.key`) });
  return {
    ca: await read('ca.crt'),
    otherCa: await read('other-ca.crt'),
    client: { agent: await pair('client-agent'), router: await pair('client-router'), nobody: await pair('client-nobody') },
    foreignClient: await pair('foreign'),
  };
}

/** The first error lines (the cause; boot failures end in a long crash report) and the last lines of a log. */
async function excerpt(file: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch((err: unknown) => `(cannot read ${file}: ${String(err)})`);
  const lines = text.split('\n');
  const errors = lines.filter((l) => l.includes('[error]')).slice(0, 12);
  return [...errors, ...(errors.length > 0 ? ['...'] : []), ...lines.slice(-12)].join('\n');
}

/** RabbitMQ's rabbit_password_hashing_sha256: base64(salt(4) ++ sha256(salt ++ password)). */
function passwordHash(password: string): string {
  const salt = randomBytes(4);
  return Buffer.concat([
    salt,
    createHash('sha256')
      .update(Buffer.concat([salt, Buffer.from(password, 'utf8')]))
      .digest(),
  ]).toString('base64');
}

/**
 * Start the private node with `vhost` and `users` (password-less: EXTERNAL only) having full rights
 * on it. Throws, with the log's error lines and tail, when the node does not come up.
 */
export async function startTlsNode(
  vhost: string,
  users: readonly string[] = [TLS_CLIENTS.agent, TLS_CLIENTS.router],
  options: TlsNodeOptions = {},
): Promise<TlsNode> {
  await mkdir(NODES_DIR, { recursive: true });
  await reapLeftovers();
  const tag = `${process.pid}-${randomBytes(3).toString('hex')}`;
  const dir = join(NODES_DIR, tag);
  const certs = join(dir, 'certs');
  await mkdir(certs, { recursive: true });
  const nodeName = `vip-tls-${tag}@localhost`;
  const logDir = join(dir, 'log');
  const logFile = join(logDir, `${nodeName}.log`);
  const env = { ...process.env, HOME: dir, LANG: 'C.UTF-8' };

  const ctlWith = async (signal: AbortSignal | undefined, args: readonly string[]): Promise<string> => {
    try {
      const { stdout } = await run(bin('rabbitmqctl'), ['-n', nodeName, ...args], { env, timeout: (START_TIMEOUT_S + 5) * 1_000, signal });
      return stdout;
    } catch (err) {
      const e = err as { stderr?: string; stdout?: string; message?: string };
      throw new Error(`rabbitmqctl -n ${nodeName} ${args.join(' ')} failed: ${e.stderr?.trim() || e.stdout?.trim() || e.message}`, {
        cause: err,
      });
    }
  };
  const ctl = (...args: string[]) => ctlWith(undefined, args);

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await run(bin('rabbitmqctl'), ['-n', nodeName, 'stop'], { env, timeout: STOP_TIMEOUT_MS }).catch(() => undefined); // may already be down
      for (const vm of await nodeVms()) if (vm.home === dir) kill(vm.pid);
      await rm(dir, { recursive: true, force: true });
    })());

  try {
    const pem = await makeCertificates(certs);
    const [amqpPort, amqpsPort, distPort] = [await freePort(), await freePort(), await freePort()];
    const mgmtPort = options.management ? await freePort() : undefined;
    const admin = mgmtPort === undefined ? undefined : { user: `vip-admin-${tag}`, password: randomBytes(12).toString('base64url') };
    await writeFile(
      join(dir, 'rabbitmq.conf'),
      [
        `listeners.tcp.default = 127.0.0.1:${amqpPort}`,
        `listeners.ssl.default = 127.0.0.1:${amqpsPort}`,
        `ssl_options.cacertfile = ${join(certs, 'ca.crt')}`,
        `ssl_options.certfile = ${join(certs, 'server.crt')}`,
        `ssl_options.keyfile = ${join(certs, 'server.key')}`,
        'ssl_options.verify = verify_peer',
        'ssl_options.fail_if_no_peer_cert = true',
        'auth_mechanisms.1 = EXTERNAL',
        'auth_mechanisms.2 = PLAIN',
        'ssl_cert_login_from = common_name',
        `load_definitions = ${join(dir, 'definitions.json')}`,
        'log.console = false',
        'log.file.level = info',
        ...(mgmtPort !== undefined ? ['management.tcp.ip = 127.0.0.1', `management.tcp.port = ${mgmtPort}`] : []),
        '',
      ].join('\n'),
    );
    // management only on request, and then on its own port: 15672 is the main broker's
    const plugins = ['rabbitmq_auth_mechanism_ssl', ...(mgmtPort !== undefined ? ['rabbitmq_management'] : [])];
    await writeFile(join(dir, 'enabled_plugins'), `[${plugins.join(',')}].\n`);
    await writeFile(join(dir, 'rabbitmq-env.conf'), ''); // not /etc/rabbitmq/rabbitmq-env.conf (NODENAME=rabbit@localhost)
    const nodeEnv = {
      ...env,
      RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
      RABBITMQ_NODENAME: nodeName,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(amqpPort),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: logDir,
      RABBITMQ_PID_FILE: join(dir, 'rabbit.pid'),
      RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
      RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
      ERL_EPMD_ADDRESS: '127.0.0.1',
    };
    // Users, vhost and permissions are loaded at boot: the same as rabbitmqctl add_vhost, add_user and
    // set_permissions, without two rounds of CLI calls (~1.4 s). An empty password hash means no
    // password login at all; EXTERNAL only needs the user to exist.
    const adminUser = admin
      ? [
          {
            name: admin.user,
            password_hash: passwordHash(admin.password),
            hashing_algorithm: 'rabbit_password_hashing_sha256',
            tags: 'administrator',
          },
        ]
      : [];
    const allUsers = [...users, ...(admin ? [admin.user] : [])];
    await writeFile(
      join(dir, 'definitions.json'),
      JSON.stringify({
        vhosts: [{ name: vhost }],
        users: [
          ...users.map((name) => ({ name, password_hash: '', hashing_algorithm: 'rabbit_password_hashing_sha256', tags: '' })),
          ...adminUser,
        ],
        permissions: allUsers.map((user) => ({ user, vhost, configure: '.*', write: '.*', read: '.*' })),
      }),
    );
    const began = Date.now();
    // In the foreground (not -detached, which discards the VM's output: a config error would leave
    // no trace), in its own session so it outlives a crashed test process (the reaper ends it).
    const out = await open(join(dir, 'startup.log'), 'w');
    const vm = spawn(bin('rabbitmq-server'), [], { env: nodeEnv, cwd: dir, stdio: ['ignore', out.fd, out.fd], detached: true });
    await out.close();
    vm.unref();
    const abort = new AbortController();
    const died = new Promise<never>((_, reject) => {
      vm.once('error', reject);
      vm.once('exit', (code, signal) => reject(new Error(`rabbitmq-server exited before the node was up (${signal ?? `code ${code}`})`)));
    });
    try {
      // `wait` waits for the pid file, then for the boot to finish; the VM dying ends it early.
      await Promise.race([died, ctlWith(abort.signal, ['wait', join(dir, 'rabbit.pid'), '--timeout', String(START_TIMEOUT_S)])]);
    } catch (err) {
      throw new Error(
        `the private TLS RabbitMQ node ${nodeName} did not start (${(err as Error).message}).\n` +
          `log ${logFile}:\n${await excerpt(logFile)}\nstartup output ${join(dir, 'startup.log')}:\n${await excerpt(join(dir, 'startup.log'))}`,
        { cause: err },
      );
    } finally {
      abort.abort();
      died.catch(() => undefined); // from here on stop() owns the VM
    }
    const startupMs = Date.now() - began;
    const caFiles = { cert: join(certs, 'ca.crt'), key: join(certs, 'ca.key') };
    const management =
      mgmtPort !== undefined && admin
        ? {
            baseUrl: `http://127.0.0.1:${mgmtPort}`,
            port: mgmtPort,
            ...admin,
            urlWithLogin: `http://${encodeURIComponent(admin.user)}:${encodeURIComponent(admin.password)}@127.0.0.1:${mgmtPort}`,
          }
        : undefined;
    return {
      nodeName,
      dir,
      logFile,
      amqpPort,
      amqpsPort,
      amqpsUrl: `amqps://127.0.0.1:${amqpsPort}`,
      pem,
      caFiles,
      ...(management ? { management } : {}),
      startupMs,
      ctl,
      stop,
    };
  } catch (err) {
    // Keep the evidence in the error, not on disk: a failed start leaves nothing behind.
    await stop();
    throw err;
  }
}
