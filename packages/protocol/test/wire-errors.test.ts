import { describe, expect, it } from 'vitest';
import { AgainError, InvalidPayloadError, PeerUnreachableError, UnknownSubsystemError, WireError } from '../src/errors.js';
import { UnauthorizedError } from '../src/unauthorized-error.js';
import { errnoMessage, errorArgs, errorArgsFor, errorFromArgs } from '../src/wire-errors.js';
import { loadTranscript } from './transcripts.js';

const b = (s: string) => Buffer.from(s, 'latin1');
const strs = (frames: readonly Buffer[]) => frames.map((f) => f.toString('latin1'));

/** Args of the `error` reply in a transcript (frames after the subsystem frame, DEALER view). */
function errorReply(name: string): Buffer[] {
  const e = loadTranscript(name).find((x) => x.frames[4]?.toString() === 'error');
  if (!e) throw new Error(`${name} has no error reply`);
  return e.frames.slice(5);
}

describe('wire errors against the transcripts', () => {
  it.each<[string, Buffer[], unknown, Record<string, unknown>]>([
    [
      'raw_unreachable_peer',
      errorArgs(113, 'no.such.peer', 'RPC'),
      PeerUnreachableError,
      { code: 'VIP_UNREACHABLE', errnum: 113, peer: 'no.such.peer', subsystem: 'RPC' },
    ],
    [
      'raw_unknown_subsystem',
      errorArgs(93, '', 'nosuchsubsystem'),
      UnknownSubsystemError,
      { code: 'VIP_UNKNOWN_SUBSYSTEM', errnum: 93, peer: '', subsystem: 'nosuchsubsystem' },
    ],
  ])('%s: errorArgs writes the router frames, errorFromArgs reads them back', (name, built, cls, fields) => {
    const args = errorReply(name);
    expect(strs(built)).toEqual(strs(args));
    const err = errorFromArgs(args);
    expect(err).toBeInstanceOf(cls);
    expect(err).toMatchObject(fields);
    expect(strs(errorArgsFor(err as WireError))).toEqual(strs(args));
  });
  it('agent_unreachable_peer', () => {
    expect(errorFromArgs(errorReply('agent_unreachable_peer'))).toMatchObject({ code: 'VIP_UNREACHABLE', peer: 'no.such.peer' });
  });
});

describe('errorFromArgs', () => {
  it.each<[string, Buffer[], unknown, Record<string, unknown>]>([
    ['EAGAIN', [b('11'), b('Resource temporarily unavailable'), b('sub1'), b('pubsub')], AgainError, { code: 'VIP_AGAIN', peer: 'sub1' }],
    [
      '3-arg agent form',
      [b('93'), b('Protocol not supported'), b('channel')],
      UnknownSubsystemError,
      { peer: 'agent.x', subsystem: 'channel' },
    ],
    [
      'errnum re-encoded by a Python router',
      [b('\x5d\x00\x00\x00'), b('Protocol not supported'), b('channel')],
      UnknownSubsystemError,
      { errnum: 93 },
    ],
    [
      'pubsub -32001',
      [b('-32001'), b('to publish to topic "foo" requires capabilities ["c"]'), b(''), b('pubsub')],
      UnauthorizedError,
      { code: 'VIP_UNAUTHORIZED', errnum: -32001, subsystem: 'pubsub', message: 'to publish to topic "foo" requires capabilities ["c"]' },
    ],
    ['other errnum', [b('42'), b('Something'), b('p'), b('RPC')], WireError, { code: 'VIP_REMOTE', errnum: 42, message: 'Something' }],
  ])('%s', (_name, args, cls, fields) => {
    const err = errorFromArgs(args, 'agent.x');
    expect(err).toBeInstanceOf(cls);
    expect(err).toMatchObject(fields);
  });
  it.each([[[b('113'), b('x')]], [[b('abc'), b('m'), b('p'), b('s')]], [[]]])('rejects %# without throwing', (args) => {
    expect(errorFromArgs(args)).toBeInstanceOf(InvalidPayloadError);
  });
  it('renders the -32001 and unknown errnum messages as given', () => {
    expect(strs(errorArgsFor(new UnauthorizedError('why')))).toEqual(['-32001', 'why', '', 'pubsub']);
    expect(errnoMessage(7)).toBe('Unknown error 7');
    expect(strs(errorArgs(11, b('sub'), b('pubsub')))).toEqual(['11', 'Resource temporarily unavailable', 'sub', 'pubsub']);
  });
});
