import { EMPTY_FRAME, frameText, identityKey, PEERLIST_FRAME, textFrame, type Frame, type Logger, type VipMessage } from '@vip/protocol';
import { PROXY_IDENTITY, RmqConnection, type RmqLinkOptionsInput } from '@vip/rmq';
import { ProxyPeerRefusedError } from './errors.js';

const ZMQ = textFrame('zmq');
const PEER_REQUEST_TIMEOUT_MS = 10_000;

/**
 * The proxy's own connection to the RMQ router (identity PROXY_IDENTITY): `peerlist add|drop
 * <peer> zmq` requests, each resolved by the router's echo or refused (its error, or no answer in
 * time) with a ProxyPeerRefusedError.
 */
export class RouterRequests {
  readonly #control: RmqConnection;
  readonly #answers = new Map<string, (m: VipMessage) => void>();
  #ids = 0;

  constructor(rmq: RmqLinkOptionsInput, logger: Logger) {
    this.#control = new RmqConnection({ ...rmq, identity: PROXY_IDENTITY, logger });
    this.#control.onMessage((m) => this.#answers.get(identityKey(m.id))?.(m));
  }

  open(): Promise<void> {
    return this.#control.open();
  }

  close(): Promise<void> {
    return this.#control.close();
  }

  /** `peerlist add <peer> zmq`: the router knows the ZeroMQ peer. */
  add(peer: Frame): Promise<void> {
    return this.#request('add', peer);
  }

  /** `peerlist drop <peer> zmq`: the router forgets the ZeroMQ peer. */
  drop(peer: Frame): Promise<void> {
    return this.#request('drop', peer);
  }

  #request(op: 'add' | 'drop', peer: Frame): Promise<void> {
    const id = textFrame(`proxy.${++this.#ids}`);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#answers.delete(identityKey(id));
        reject(new ProxyPeerRefusedError(frameText(peer), `the router did not answer peerlist ${op} within ${PEER_REQUEST_TIMEOUT_MS} ms`));
      }, PEER_REQUEST_TIMEOUT_MS);
      this.#answers.set(identityKey(id), (answer) => {
        clearTimeout(timer);
        this.#answers.delete(identityKey(id));
        if (answer.args[0] !== undefined && frameText(answer.args[0]) === 'error') {
          reject(
            new ProxyPeerRefusedError(
              frameText(peer),
              `the router refused peerlist ${op}: ${answer.args[1] ? frameText(answer.args[1]) : ''}`,
            ),
          );
        } else {
          resolve();
        }
      });
      const frames = [textFrame(op), peer, ZMQ];
      this.#control.send({ peer: EMPTY_FRAME, user: EMPTY_FRAME, id, subsystem: PEERLIST_FRAME, args: frames }).catch((err: unknown) => {
        clearTimeout(timer);
        this.#answers.delete(identityKey(id));
        reject(err as Error);
      });
    });
  }
}
