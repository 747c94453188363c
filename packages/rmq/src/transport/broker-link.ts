import amqp, { type ChannelModel } from 'amqplib';
import { ClosedError, silentLogger, type ConnectionStatus, type Logger } from '@vip/protocol';
import { reconnectDelay } from './reconnect-policy.js';
import { brokerUrls, connectTarget, describeTarget, externalUser, type RmqLinkOptions, type TlsOptions } from './rmq-options.js';
import { RmqSetupError, unresolvedHost } from './rmq-errors.js';
import { LinkSession } from './link-session.js';
import { connectionStream, corkPerTick } from './write-batching.js';

export interface BrokerLinkHooks {
  /**
   * Declare channels, queues, consumers on a fresh connection. Open channels through `session`
   * so that a close flushes them before the connection goes (LinkSession). A throw fails the attempt.
   */
  setup(session: LinkSession): Promise<void>;
  /** The session ended (connection lost or closing): drop per-connection state. */
  down(reason: string): void;
  status(status: ConnectionStatus): void;
}

/**
 * One broker connection that comes back: the first `open()` fails fast with an RmqSetupError
 * naming the problem; after that, any unexpected close (broker restart, forced close, heartbeat
 * loss) reconnects with back-off and jitter (ReconnectPolicy), re-runs `setup`, and reports
 * `disconnected` -> `retrying` n -> `connected`. Nothing reconnects by itself in amqplib, so this
 * is the only place that does. `close()` is final and idempotent.
 */
export class BrokerLink {
  readonly #o: RmqLinkOptions;
  readonly #name: string;
  readonly #hooks: BrokerLinkHooks;
  readonly #log: Logger;
  #session: LinkSession | undefined;
  #timer: NodeJS.Timeout | undefined;
  #attempt = 0;
  #closed?: Promise<void>;
  #reconnects = 0;
  /** Index into brokerUrls of the node to try next (failover: advanced past a node that failed). */
  #node = 0;

  constructor(options: RmqLinkOptions, connectionName: string, hooks: BrokerLinkHooks, logger: Logger = silentLogger) {
    this.#o = options;
    this.#name = connectionName;
    this.#hooks = hooks;
    this.#log = logger;
  }

  get connected(): boolean {
    return this.#session !== undefined;
  }
  get isClosed(): boolean {
    return this.#closed !== undefined;
  }
  /** The node (`host:port/vhost`) of the current or last connection. */
  get node(): string {
    return describeTarget(this.#o, this.#node);
  }
  /** Successful reconnections since open. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** First connection; rejects with RmqSetupError (broker down, vhost, credentials) or the setup error. */
  async open(): Promise<void> {
    if (this.#closed) throw new ClosedError(`RabbitMQ link ${this.#name}`);
    // every node in turn while they are unreachable; a refusal (credentials, vhost) is final
    const nodes = brokerUrls(this.#o).length;
    for (let tried = 1; ; tried++) {
      try {
        await this.#connect();
        break;
      } catch (err) {
        if (tried >= nodes || !(err instanceof RmqSetupError && err.missing === 'broker')) throw err;
        this.#log.warn('rmq.link.failover', { name: this.#name, from: describeTarget(this.#o, this.#node), reason: err.message });
        this.#node += 1;
      }
    }
    this.#hooks.status({ type: 'connected' });
  }

  /**
   * Drop the current connection on purpose (a channel broke); the link reconnects. With `of`,
   * only when that is still the current connection (a late event of an old session is ignored).
   */
  restart(reason: string, of?: ChannelModel): void {
    const s = this.#session;
    if (!s || this.#closed || (of !== undefined && of !== s.model)) return;
    this.#log.warn('rmq.link.restart', { name: this.#name, reason });
    this.#lost(s.model, reason);
    void s.close();
  }

  close(): Promise<void> {
    return (this.#closed ??= this.#shutdown());
  }

  async #shutdown(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const s = this.#session;
    this.#session = undefined;
    if (s) {
      this.#hooks.down('closed');
      await s.close(); // channels first: frames still buffered on them reach the broker
    }
    this.#hooks.status({ type: 'closed' });
  }

  async #connect(): Promise<void> {
    const model = await connectBroker(this.#o, this.#name, this.#node);
    model.on('error', (err: Error) => this.#log.debug('rmq.link.error', { name: this.#name }, err));
    model.on('close', (err?: Error) => this.#lost(model, err?.message ?? 'connection closed'));
    const session = new LinkSession(model, this.#log);
    if (this.#closed) {
      await session.close();
      throw new ClosedError(`RabbitMQ link ${this.#name}`);
    }
    const stream = this.#o.batchWrites ? connectionStream(model) : undefined;
    if (stream) corkPerTick(stream);
    this.#session = session;
    try {
      await this.#hooks.setup(session);
    } catch (err) {
      this.#session = undefined;
      this.#hooks.down('setup failed');
      await session.close();
      throw err;
    }
  }

  #lost(model: ChannelModel, reason: string): void {
    if (this.#session?.model !== model) return; // an old or already handled connection
    this.#session = undefined;
    this.#hooks.down(reason);
    if (this.#closed) return;
    this.#log.warn('rmq.link.lost', { name: this.#name, reason });
    // with failover nodes, the first retry goes to another one (this one may be the node that died)
    if (this.#o.failoverUrls.length > 0) this.#node += 1;
    this.#hooks.status({ type: 'disconnected', reason });
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#attempt += 1;
    const attempt = this.#attempt;
    const delay = reconnectDelay(this.#o.reconnect, attempt);
    this.#hooks.status({ type: 'retrying', attempt });
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#connect().then(
        () => {
          this.#attempt = 0;
          this.#reconnects += 1;
          this.#log.info('rmq.link.reconnected', { name: this.#name, attempt });
          this.#hooks.status({ type: 'connected' });
        },
        (err: unknown) => {
          this.#log.debug('rmq.link.retry-failed', { name: this.#name, attempt, node: describeTarget(this.#o, this.#node) }, err);
          if (this.#o.failoverUrls.length > 0) this.#node += 1;
          this.#schedule();
        },
      );
    }, delay);
  }
}

/** One AMQP connection to `o`'s broker and vhost; a failure is an RmqSetupError (classifyConnectError) whose cause is amqplib's error. */
export async function connectBroker(o: RmqLinkOptions, connectionName: string, node = 0): Promise<ChannelModel> {
  const { url, socketOptions } = connectTarget(o, connectionName, node);
  try {
    return await amqp.connect(url, socketOptions);
  } catch (err) {
    throw classifyConnectError(err, describeTarget(o, node), o.vhost, o.tls);
  }
}

/** connectBroker on each node of `o` in turn until one answers (a refusal other than "unreachable" is final). */
export async function connectAnyNode(o: RmqLinkOptions, connectionName: string): Promise<ChannelModel> {
  const nodes = brokerUrls(o).length;
  for (let node = 0; ; node++) {
    try {
      return await connectBroker(o, connectionName, node);
    } catch (err) {
      if (node + 1 >= nodes || !(err instanceof RmqSetupError && err.missing === 'broker')) throw err;
    }
  }
}

/**
 * Turn an amqplib/socket connect failure into an RmqSetupError that says what to do. With `tls`
 * (the link's TLS options) TLS and EXTERNAL failures name the certificate and the broker user.
 */
export function classifyConnectError(err: unknown, target: string, vhost: string, tls?: TlsOptions): RmqSetupError {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  const tlsError = classifyTlsError(err, code, msg, target);
  if (tlsError) return tlsError;
  const dns = unresolvedHost(code, target, err);
  if (dns) return dns;
  if (['ECONNREFUSED', 'EHOSTUNREACH', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE'].includes(code) || /timeout/i.test(msg)) {
    // A broker refusing a client certificate normally sends an alert (above); a reset can hide it.
    const hint = tls && code === 'ECONNRESET' ? '; over TLS also check that the broker trusts tls.cert (ssl_options.cacertfile)' : '';
    return new RmqSetupError(
      'broker',
      `RabbitMQ is not reachable at ${target} (${code || msg})`,
      `start the broker (bash tools/ensure-rabbitmq.sh, or rabbitmq-server -detached) and check host and port${hint}`,
      { cause: err },
    );
  }
  const user = externalUser(tls);
  if (/SASL mechanism EXTERNAL/.test(msg)) {
    return new RmqSetupError(
      'plugin',
      `RabbitMQ at ${target} does not offer SASL EXTERNAL (${msg})`,
      'rabbitmq-plugins enable rabbitmq_auth_mechanism_ssl, set auth_mechanisms.1 = EXTERNAL in rabbitmq.conf, and connect over amqps with a client certificate',
      { cause: err },
    );
  }
  if (msg.includes('ACCESS-REFUSED') || msg.includes('ACCESS_REFUSED')) {
    if (tls?.external) {
      const who = user === undefined ? 'the user named by the client certificate' : JSON.stringify(user);
      return new RmqSetupError(
        'credentials',
        `RabbitMQ at ${target} refused the EXTERNAL login of ${who} (the certificate was accepted; no broker user has that name, or the broker reads another field of the certificate)`,
        `rabbitmqctl add_user ${user ?? '<CN>'} <any password> && rabbitmqctl set_permissions -p ${vhost} ${user ?? '<CN>'} ".*" ".*" ".*" (EXTERNAL ignores the password; the broker needs ssl_cert_login_from = common_name)`,
        { cause: err },
      );
    }
    return new RmqSetupError(
      'credentials',
      `RabbitMQ refused the login at ${target}`,
      'check user and password in the URL (guest may only log in from localhost)',
      { cause: err },
    );
  }
  if (msg.includes('ConnectionOpenOk') || msg.includes('NOT-ALLOWED') || msg.includes('NOT_ALLOWED')) {
    return new RmqSetupError(
      'vhost',
      `virtual host ${JSON.stringify(vhost)} is missing or ${user === undefined ? 'this user' : `user ${JSON.stringify(user)}`} has no access to it (${target})`,
      `create it and grant access: rabbitmqctl add_vhost ${vhost} && rabbitmqctl set_permissions -p ${vhost} ${user ?? '<user>'} ".*" ".*" ".*" (or ensureVolttronBroker with management)`,
      { cause: err },
    );
  }
  return new RmqSetupError('broker', `could not connect to RabbitMQ at ${target}: ${msg}`, 'check the broker log and the URL', {
    cause: err,
  });
}

/** TLS handshake failures: who refused whom. Undefined when `code` is not a TLS error. */
function classifyTlsError(err: unknown, code: string, msg: string, target: string): RmqSetupError | undefined {
  // An alert from the broker: it did not accept what we presented (or presented nothing).
  const alert = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_(\w+)$/.exec(code)?.[1];
  if (alert !== undefined) {
    const what = alert.toLowerCase().replaceAll('_', ' ');
    return new RmqSetupError(
      'credentials',
      `RabbitMQ at ${target} refused the client certificate during the TLS handshake (alert "${what}")`,
      alert === 'CERTIFICATE_REQUIRED'
        ? 'the broker requires a client certificate: set tls.cert and tls.key'
        : 'tls.cert must be signed by a CA the broker trusts (its ssl_options.cacertfile), be valid now, and tls.key must be its key',
      { cause: err },
    );
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
    return new RmqSetupError(
      'broker',
      `${target} does not speak TLS (${code}): is it the plain AMQP port?`,
      "use the broker's amqps port (listeners.ssl, 5671 by default) or an amqp:// URL",
      { cause: err },
    );
  }
  if (/CERT|SIGNATURE|SSL|TLS|ISSUER/.test(code)) {
    return new RmqSetupError(
      'credentials',
      `TLS handshake with ${target} failed: the broker certificate is not trusted (${code}: ${msg.trim()})`,
      'check tls.ca (the CA that signed the broker certificate), tls.servername (a name or IP in its subjectAltName), and its validity dates',
      { cause: err },
    );
  }
  return undefined;
}
