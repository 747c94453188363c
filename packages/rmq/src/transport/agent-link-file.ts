import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError } from '@vip/protocol';
import { z } from 'zod';
import type { RmqLinkOptionsInput } from './rmq-options.js';

/**
 * `$VIP_HOME/keystores/<identity>/rmq.json`: how an agent reaches the broker as its own user
 * (VOLTTRON's per-agent RabbitMQ user `<instance>.<identity>`, docs/protocol.md 7.1), written by
 * `vipctl auth add --identity` and read by `connectRmqAgent({ identity })`. The URL holds the
 * password, so the file is 0600 in the 0700 keystore directory, like keystore.json. On an EXTERNAL
 * platform there is no password: `tls` names the agent's certificate files and `external` is true.
 */
export const AgentRmqFileSchema = z.object({
  url: z.string().regex(/^amqps?:\/\/[^/\s]+\/?$/),
  vhost: z.string().min(1),
  instanceName: z.string().min(1),
  identity: z.string().min(1),
  user: z.string().min(1),
  tls: z
    .object({
      ca: z.string().regex(/^\//).optional(),
      cert: z.string().regex(/^\//),
      key: z.string().regex(/^\//),
      servername: z.string().min(1).optional(),
    })
    .optional(),
  external: z.boolean().optional(),
  /** Written on a shared-login platform (nothing there proves a sender): the agent must not require proofs. */
  senderProof: z.literal('optional').optional(),
  /** The other nodes of the platform's broker cluster (`--rmq-failover-urls`): the agent fails over to them too. */
  failoverUrls: z.array(z.string().regex(/^amqps?:\/\/[^/\s]+\/?$/)).optional(),
});
export type AgentRmqFile = z.infer<typeof AgentRmqFileSchema>;

export function agentRmqFilePath(vipHome: string, identity: string): string {
  return join(vipHome, 'keystores', identity, 'rmq.json');
}

/** Read and check an agent's rmq.json: undefined when there is none, ConfigError (naming the file) when it is unreadable or not one. */
export async function readAgentRmqFile(vipHome: string, identity: string): Promise<AgentRmqFile | undefined> {
  const path = agentRmqFilePath(vipHome, identity);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined; // reported below with the path
  }
  const r = AgentRmqFileSchema.safeParse(json);
  if (!r.success) throw new ConfigError(`${path} is not a valid agent broker file (expected url, vhost, instanceName, identity, user)`);
  if (r.data.identity !== identity)
    throw new ConfigError(`${path} is the broker file of ${JSON.stringify(r.data.identity)}, not of ${JSON.stringify(identity)}`);
  return r.data;
}

/**
 * The broker link of an rmq.json, as `rmq` options: URL, vhost, instance; on an EXTERNAL platform
 * the PEM text of the certificate files it names and the broker user (the certificate's CN); on a
 * shared-login platform `senderProof: 'optional'`. A named file that cannot be read is a ConfigError.
 */
export async function agentLinkFromFile(file: AgentRmqFile): Promise<RmqLinkOptionsInput> {
  const pem = (path: string) =>
    readFile(path, 'utf8').catch((err: unknown) => {
      throw new ConfigError(
        `cannot read ${path} (named in the rmq.json of ${file.identity}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { cause: err },
      );
    });
  const tls =
    file.tls === undefined
      ? undefined
      : {
          ...(file.tls.ca !== undefined ? { ca: await pem(file.tls.ca) } : {}),
          cert: await pem(file.tls.cert),
          key: await pem(file.tls.key),
          ...(file.tls.servername !== undefined ? { servername: file.tls.servername } : {}),
          external: file.external === true,
        };
  return {
    url: file.url,
    vhost: file.vhost,
    instanceName: file.instanceName,
    ...(tls ? { tls } : {}),
    ...(file.external === true ? { brokerUser: file.user } : {}),
    ...(file.senderProof !== undefined ? { senderProof: file.senderProof } : {}),
    ...(file.failoverUrls !== undefined ? { failoverUrls: file.failoverUrls } : {}),
  };
}
