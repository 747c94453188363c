import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP forwarder on 127.0.0.1 in front of a platform address, which a test can close to new
 * connections: a subscriber connected through it stays away after a platform restart until the
 * test opens the gate again. Bytes pass through untouched (CURVE is end to end). `close()` cuts
 * every forwarded connection and stops listening.
 */
export class TcpGate {
  readonly #server: Server;
  readonly #pairs = new Set<Socket>();
  #open = true;
  #port = 0;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Listen on a free port of 127.0.0.1 and forward to `target` (`tcp://127.0.0.1:PORT`). */
  static async start(target: string): Promise<TcpGate> {
    const url = new URL(target.replace(/^tcp:/, 'http:'));
    const host = url.hostname;
    const port = Number(url.port);
    let gate!: TcpGate;
    const server = createServer((client) => gate.#accept(client, host, port));
    gate = new TcpGate(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    gate.#port = typeof address === 'object' && address !== null ? address.port : 0;
    return gate;
  }

  get address(): string {
    return `tcp://127.0.0.1:${this.#port}`;
  }

  /** Refuse new connections (each is closed at once); connections already through stay. */
  shut(): void {
    this.#open = false;
  }

  open(): void {
    this.#open = true;
  }

  async close(): Promise<void> {
    this.#open = false;
    for (const s of this.#pairs) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket, host: string, port: number): void {
    if (!this.#open) {
      client.destroy();
      return;
    }
    const upstream = connect({ host, port });
    for (const [a, b] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      this.#pairs.add(a);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        this.#pairs.delete(a);
        b.destroy();
      });
      a.pipe(b);
    }
  }
}

/** What became of one publish. */
export type PublishOutcome =
  | { readonly seq: number; readonly phase: string; readonly state: 'pending' }
  | { readonly seq: number; readonly phase: string; readonly state: 'resolved'; readonly count: number }
  | { readonly seq: number; readonly phase: string; readonly state: 'rejected'; readonly code: string; readonly message: string };

/**
 * A publisher that keeps publishing `<prefix><seq>` (message = seq) without waiting for the
 * previous publish, at most `window` unsettled at once (an agent that publishes while the
 * platform is down piles them up in its outbox), and records the outcome of each: resolved with
 * its count, or rejected with the error code. `phase` labels each publish with the test's phase
 * when it was made (before the kill, during the outage, after the restart).
 */
export class PublishRun {
  readonly outcomes: PublishOutcome[] = [];
  phase = 'before';
  #running = false;
  #loop: Promise<void> | undefined;
  #unsettled = 0;
  #wake: (() => void) | undefined;

  constructor(
    private readonly publish: (topic: string, seq: number) => Promise<number>,
    private readonly prefix: string,
    private readonly options: { readonly window: number; readonly maxPublishes: number },
  ) {}

  start(): void {
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stop publishing and wait until every publish made has settled. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wake?.();
    await this.#loop;
  }

  count(phase: string, state: PublishOutcome['state']): number {
    return this.outcomes.filter((o) => o.phase === phase && o.state === state).length;
  }

  made(phase: string): number {
    return this.outcomes.filter((o) => o.phase === phase).length;
  }

  async #run(): Promise<void> {
    const pending = new Set<Promise<void>>();
    for (let seq = 0; this.#running && seq < this.options.maxPublishes; seq++) {
      while (this.#unsettled >= this.options.window && this.#running) await new Promise<void>((r) => (this.#wake = r));
      if (!this.#running) break;
      const phase = this.phase;
      this.outcomes[seq] = { seq, phase, state: 'pending' };
      this.#unsettled++;
      const p = this.publish(`${this.prefix}${seq}`, seq)
        .then(
          (count) => void (this.outcomes[seq] = { seq, phase, state: 'resolved', count }),
          (err: unknown) => {
            const e = err as { code?: unknown; message?: unknown };
            this.outcomes[seq] = { seq, phase, state: 'rejected', code: String(e?.code ?? 'none'), message: String(e?.message ?? err) };
          },
        )
        .finally(() => {
          this.#unsettled--;
          pending.delete(p);
          const wake = this.#wake;
          this.#wake = undefined;
          wake?.();
        });
      pending.add(p);
      // one publish per turn of the event loop, so the platform, the agent and the test all move
      await new Promise<void>((r) => setTimeout(r, 5));
    }
    await Promise.all([...pending]);
  }
}

/**
 * The restart guarantee, checked on a finished run: no publish resolved with count 0 (the
 * subscriber was subscribed throughout), every publish resolved with a count >= 1 reached the
 * subscriber, and each reached it once, in publish order. Rejected publishes may or may not have
 * reached it (the platform never confirmed them). Returns a list of violations (empty = holds).
 */
export function restartViolations(outcomes: readonly PublishOutcome[], received: readonly number[]): string[] {
  const violations: string[] = [];
  const got = new Set(received);
  for (const o of outcomes) {
    if (o.state === 'pending') violations.push(`publish ${o.seq} (${o.phase}) never settled`);
    else if (o.state === 'resolved' && o.count === 0) violations.push(`publish ${o.seq} (${o.phase}) resolved with count 0`);
    else if (o.state === 'resolved' && !got.has(o.seq))
      violations.push(`publish ${o.seq} (${o.phase}) resolved with count ${o.count} but never arrived`);
  }
  if (got.size !== received.length) violations.push(`duplicates delivered: ${received.length - got.size}`);
  for (let i = 1; i < received.length; i++) {
    if ((received[i] as number) < (received[i - 1] as number)) violations.push(`out of order: ${received[i - 1]} before ${received[i]}`);
  }
  return violations;
}
