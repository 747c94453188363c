import { frameText, TimeoutError, textFrame } from '@vip/protocol';
import { ZmqConnection, type ZmqConnectionOptions } from './connection.js';

/**
 * The router's socket identity, the `via` a ROUTER-socket peer must put first (docs/protocol.md
 * 1.6): asked as VOLTTRON says to, over a DEALER, from the third argument of the router's
 * `welcome`. The DEALER connects with `options` (same keys and identity the ROUTER will use) and
 * is closed before this resolves.
 */
export async function routerSocketIdentity(options: Omit<ZmqConnectionOptions, 'via'> & { readonly timeoutMs?: number }): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const connection = new ZmqConnection({ ...options, openTimeoutMs: options.openTimeoutMs ?? timeoutMs });
  try {
    const welcome = new Promise<string>((resolve) => {
      connection.onMessage((m) => {
        if (frameText(m.subsystem) === 'hello' && m.args[0] !== undefined && frameText(m.args[0]) === 'welcome' && m.args[2] !== undefined)
          resolve(frameText(m.args[2]));
      });
    });
    await connection.open();
    await connection.send({
      peer: textFrame(''),
      user: textFrame(''),
      id: textFrame('via.hello'),
      subsystem: textFrame('hello'),
      args: [textFrame('hello')],
    });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`welcome from ${options.address.split('?')[0] ?? ''}`, timeoutMs)), timeoutMs);
    });
    try {
      return await Promise.race([welcome, late]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    await connection.close();
  }
}
