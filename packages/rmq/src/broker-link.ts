import amqp, { type ChannelModel } from 'amqplib';
import { ClosedError, silentLogger, type ConnectionStatus, type Logger } from '@vip/protocol';
import { reconnectDelay } from './reconnect-policy.js';
import { connectTarget, describeTarget, type RmqLinkOptions } from './rmq-options.js';
import { RmqSetupError } from './rmq-errors.js';
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
  /** Successful reconnections since open. */
  get reconnects(): number {
    return this.#reconnects;
  }

  /** First connection; rejects with RmqSetupError (broker down, vhost, credentials) or the setup error. */
  async open(): Promise<void> {
    if (this.#closed) throw new ClosedError(`RabbitMQ link ${this.#name}`);
    await this.#connect();
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
    const { url, socketOptions } = connectTarget(this.#o, this.#name);
    let model: ChannelModel;
    try {
      model = await amqp.connect(url, socketOptions);
    } catch (err) {
      throw classifyConnectError(err, describeTarget(this.#o), this.#o.vhost);
    }
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
          this.#log.debug('rmq.link.retry-failed', { name: this.#name, attempt }, err);
          this.#schedule();
        },
      );
    }, delay);
  }
}

/** Turn an amqplib/socket connect failure into an RmqSetupError that says what to do. */
export function classifyConnectError(err: unknown, target: string, vhost: string): RmqSetupError {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  if (['ECONNREFUSED', 'EHOSTUNREACH', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE'].includes(code) || /timeout/i.test(msg)) {
    return new RmqSetupError('broker', `RabbitMQ is not reachable at ${target} (${code || msg})`,
      'start the broker (bash tools/ensure-rabbitmq.sh, or rabbitmq-server -detached) and check host and port', { cause: err });
  }
  if (/CERT|SIGNATURE|SSL|TLS|ISSUER/.test(code)) {
    return new RmqSetupError('credentials', `TLS handshake with ${target} failed (${code}: ${msg})`,
      'check tls.ca (the CA that signed the broker certificate), tls.servername, and the client certificate and key', { cause: err });
  }
  if (msg.includes('ACCESS-REFUSED') || msg.includes('ACCESS_REFUSED')) {
    return new RmqSetupError('credentials', `RabbitMQ refused the login at ${target}`,
      'check user and password in the URL (guest may only log in from localhost), or the client certificate for EXTERNAL', { cause: err });
  }
  if (msg.includes('ConnectionOpenOk') || msg.includes('NOT-ALLOWED') || msg.includes('NOT_ALLOWED')) {
    return new RmqSetupError('vhost', `virtual host ${JSON.stringify(vhost)} is missing or this user has no access to it (${target})`,
      `create it and grant access: rabbitmqctl add_vhost ${vhost} && rabbitmqctl set_permissions -p ${vhost} <user> ".*" ".*" ".*" (or ensureVolttronBroker with management)`,
      { cause: err });
  }
  return new RmqSetupError('broker', `could not connect to RabbitMQ at ${target}: ${msg}`, 'check the broker log and the URL', { cause: err });
}
