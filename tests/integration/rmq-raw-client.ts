import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from 'amqplib';
import { onTestFinished } from 'vitest';
import { Inbox } from '@vip/testing';
import { readAgentRmqFile } from '@vip/rmq';

/**
 * A raw amqplib client logged in as an agent's own broker user (the URL `vipctl auth add
 * --identity` wrote in its rmq.json), writing VIP messages by hand as pika does: the attacker of
 * the sender-identity tests, and a VOLTTRON Python agent (which never sets user_id).
 */
export interface RawClient {
  readonly model: ChannelModel;
  readonly ch: Channel;
  /** What reaches the queue `<instance>.<identity>` (with `queue`). */
  readonly inbox: Inbox<ConsumeMessage>;
}

/** Log in as `identity`'s broker user from `home`; with `queue`, consume its queue `<instance>.<identity>`. Closed at test end. */
export async function rawClientAs(home: string, identity: string, queue: boolean): Promise<RawClient> {
  const file = await readAgentRmqFile(home, identity);
  if (!file) throw new Error(`no rmq.json for ${identity}`);
  const model = await amqp.connect(`${file.url}/${encodeURIComponent(file.vhost)}`, { noDelay: true });
  onTestFinished(() => model.close().catch(() => undefined));
  const ch = await model.createChannel();
  const inbox = new Inbox<ConsumeMessage>();
  if (queue) {
    const own = `${file.instanceName}.${identity}`;
    await ch.assertQueue(own, { durable: false, exclusive: true, autoDelete: true });
    await ch.bindQueue(own, 'volttron', own);
    await ch.consume(own, (m) => m && inbox.push(m), { noAck: true });
  }
  return { model, ch, inbox };
}

/** Who a hand-written message claims to be: app_id, header `user`, and the AMQP user_id (set only when given). */
export interface Claim {
  readonly appId: string;
  readonly user: string;
  readonly userId?: string;
}

/** A VIP message to `<instance>.<to>` as pika sends it (to `''`: the key without identity). */
export function sendVip(ch: Channel, instance: string, to: string, subsystem: string, args: unknown[], id: string, claim: Claim): void {
  const key = `${instance}.${to}`;
  ch.publish('volttron', key, Buffer.from(JSON.stringify(args), 'utf8'), {
    appId: claim.appId,
    messageId: id,
    type: subsystem,
    contentType: 'application/json',
    headers: { recipient: key, proto: 'VIP', user: claim.user },
    ...(claim.userId === undefined ? {} : { userId: claim.userId }),
  });
}

/** The args of a JSON-RPC request frame (docs/protocol.md 4). */
export const rpcRequest = (method: string, id: string, params: unknown[] = []): string[] => [
  JSON.stringify({ jsonrpc: '2.0', method, params, id }),
];

export interface RpcReply {
  result?: unknown;
  error?: { message: string; data?: unknown };
}

export const rpcReply = (m: ConsumeMessage): RpcReply => JSON.parse((JSON.parse(m.content.toString('utf8')) as string[])[0]!) as RpcReply;
