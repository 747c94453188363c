import { encodeKey } from '@vip/protocol';
import type { ZapMechanism } from '../zap-contract.js';

/** ZeroMQ RFC 27 (ZAP) framing as libzmq sends it to a ROUTER at `inproc://zeromq.zap.01`. */
export const ZAP_VERSION = '1.0';
const MECHANISMS: readonly string[] = ['NULL', 'PLAIN', 'CURVE'];

export interface ZapRequest {
  /** `[routing id, '', version, request id]`: the start of the reply. */
  readonly envelope: readonly Buffer[];
  readonly domain: string;
  /** Peer IP (no port), or `localhost:<uid>:<gid>:<pid>`-like over ipc. */
  readonly address: string;
  readonly mechanism: ZapMechanism;
  /** CURVE: 43-char base64url public key; PLAIN: user name; NULL: ''. */
  readonly credential: string;
}

export type ZapParseResult =
  | { readonly ok: true; readonly request: ZapRequest }
  /** `envelope` absent: too short to answer at all (dropped). */
  | { readonly ok: false; readonly status: '400' | '500'; readonly reason: string; readonly envelope?: readonly Buffer[] };

/**
 * Parses `[routing id, '', version, request id, domain, address, identity, mechanism,
 * ...credentials]`. Never throws: a malformed request yields the status to answer with.
 * The `identity` frame is the server socket's own routing id (not the client's) and is ignored.
 */
export function parseZapRequest(frames: readonly Buffer[]): ZapParseResult {
  const [routingId, delimiter, version, requestId] = frames;
  if (!routingId || !delimiter || delimiter.length !== 0 || !version || !requestId) {
    return { ok: false, status: '500', reason: 'not a ZAP request (no envelope)' };
  }
  const envelope = [routingId, delimiter, Buffer.from(ZAP_VERSION), requestId];
  if (version.toString('latin1') !== ZAP_VERSION) {
    return {
      ok: false,
      status: '400',
      reason: `unsupported ZAP version ${JSON.stringify(version.toString('latin1').slice(0, 16))}`,
      envelope,
    };
  }
  const [domain, address, , mechanismFrame, ...credentials] = frames.slice(4);
  if (!domain || !address || !mechanismFrame) return { ok: false, status: '500', reason: 'ZAP request with missing frames', envelope };
  const mechanism = mechanismFrame.toString('latin1');
  if (!MECHANISMS.includes(mechanism))
    return { ok: false, status: '400', reason: `unsupported mechanism ${JSON.stringify(mechanism.slice(0, 16))}`, envelope };
  let credential = '';
  if (mechanism === 'CURVE') {
    const key = credentials[0];
    if (!key || key.length !== 32 || credentials.length !== 1)
      return { ok: false, status: '400', reason: 'CURVE credential is not one 32-byte key', envelope };
    credential = encodeKey(key);
  } else if (mechanism === 'PLAIN') {
    const user = credentials[0];
    if (!user || credentials.length !== 2)
      return { ok: false, status: '400', reason: 'PLAIN credentials are not [user, password]', envelope };
    credential = user.toString('utf8');
  } else if (credentials.length !== 0) {
    return { ok: false, status: '400', reason: 'NULL request with credentials', envelope };
  }
  return {
    ok: true,
    request: {
      envelope,
      domain: domain.toString('utf8'),
      address: address.toString('utf8'),
      mechanism: mechanism as ZapMechanism,
      credential,
    },
  };
}

/** `[..envelope, status, text, user id, metadata '']`. */
export function zapReply(envelope: readonly Buffer[], status: '200' | '300' | '400' | '500', text: string, userId = ''): Buffer[] {
  return [...envelope, Buffer.from(status), Buffer.from(text), Buffer.from(userId, 'utf8'), Buffer.alloc(0)];
}
