import { describe, expect, it } from 'vitest';
import { InvalidPayloadError } from '../src/errors.js';
import {
  isQueryProperty,
  parseAuthUpdate,
  parseDeliveredPublish,
  parseExternalList,
  parseExternalPublish,
  parseListRequest,
  parseListResponse,
  parsePeerlistOp,
  parseProtectedUpdate,
  parsePublishRequest,
  parseSubscribeRequest,
  parseSynchronizeRequest,
  parseUnsubscribeRequest,
  parseWelcome,
  welcomeArgs,
} from '../src/payloads.js';
import { loadTranscript } from './transcripts.js';

const b = (s: string) => Buffer.from(s, 'latin1');

/** The JSON body frame of every `pubsub <op>` message in a transcript (`index` = arg index of the body). */
function pubsubBodies(name: string, op: string, index: number): Buffer[] {
  return loadTranscript(name)
    .filter((e) => e.frames[4]?.toString() === 'pubsub' && e.frames[5]?.toString() === op)
    .map((e) => e.frames[5 + index] as Buffer);
}

describe('pubsub payloads from the transcripts', () => {
  it('subscribe', () => {
    const [body] = pubsubBodies('agent_pubsub_subscribe', 'subscribe', 1);
    expect(parseSubscribeRequest(body)).toEqual({ prefix: 'cap/topic', bus: '', all_platforms: false });
  });
  it('list and list_response', () => {
    const [body] = pubsubBodies('agent_pubsub_list_unsubscribe', 'list', 1);
    expect(parseListRequest(body)).toEqual({ prefix: 'cap', bus: '', subscribed: true, reverse: false, all_platforms: false });
    const [reply] = pubsubBodies('agent_pubsub_list_unsubscribe', 'list_response', 1);
    expect(parseListResponse(reply)).toEqual([['', 'cap/topic', true]]);
  });
  it('unsubscribe', () => {
    const [body] = pubsubBodies('agent_pubsub_list_unsubscribe', 'unsubscribe', 1);
    expect(parseUnsubscribeRequest(body)).toEqual({ internal: { prefix: ['cap/topic'], bus: '' }, all: undefined });
  });
  it('publish request and delivery', () => {
    const [req, delivered] = pubsubBodies('agent_pubsub_publish', 'publish', 2);
    expect(parsePublishRequest(req)).toEqual({
      bus: '',
      headers: { 'Content-Type': 'json', min_compatible_version: '3.0', max_compatible_version: '' },
      message: { v: 1.5, l: [1, 'a'] },
    });
    expect(parseDeliveredPublish(delivered)).toMatchObject({ sender: 'cap.agent2', message: { v: 1.5, l: [1, 'a'] } });
    const [raw] = pubsubBodies('raw_pubsub_receive', 'publish', 2);
    expect(parseExternalPublish(raw)).toMatchObject({ sender: 'cap.pub', headers: { h: 'v' }, message: { value: 42 } });
  });
  it('synchronize', () => {
    const bodies = pubsubBodies('agent_hello_welcome', 'synchronize', 2);
    expect(bodies).toHaveLength(2);
    expect(parseSynchronizeRequest(bodies[0])).toEqual({ subscriptions: {} });
  });
});

describe('pubsub payload defaults and rejections', () => {
  it.each<[string, (raw: unknown) => unknown, unknown, unknown]>([
    ['subscribe list prefix', parseSubscribeRequest, { prefix: ['a', 'b'] }, { prefix: ['a', 'b'], bus: '', all_platforms: false }],
    ['publish minimal', parsePublishRequest, {}, { bus: '', headers: {}, message: null }],
    ['list defaults', parseListRequest, {}, { prefix: '', bus: '', subscribed: true, reverse: false, all_platforms: false }],
    ['list bus null', parseListRequest, { bus: null }, { prefix: '', bus: null, subscribed: true, reverse: false, all_platforms: false }],
    ['unsubscribe legacy', parseUnsubscribeRequest, { prefix: 'a', bus: 'b' }, { internal: { prefix: ['a'], bus: 'b' } }],
    [
      'unsubscribe null prefix',
      parseUnsubscribeRequest,
      { all: { prefix: null } },
      { internal: undefined, all: { prefix: null, bus: '' } },
    ],
    [
      'synchronize',
      parseSynchronizeRequest,
      '{"subscriptions": {"internal": {"": ["a"]}}}',
      { subscriptions: { internal: { '': ['a'] } } },
    ],
    [
      'auth_update',
      parseAuthUpdate,
      { capabilities: { a1: { can_x: null }, a2: ['y'] } },
      { capabilities: { a1: { can_x: null }, a2: ['y'] } },
    ],
    [
      'protected_update',
      parseProtectedUpdate,
      {
        'write-protect': [
          { topic: 'foo', capabilities: ['c'] },
          { topic: '/b.*/', capabilities: 'c' },
        ],
      },
      {
        'write-protect': [
          { topic: 'foo', capabilities: ['c'] },
          { topic: '/b.*/', capabilities: 'c' },
        ],
      },
    ],
    ['external_list', parseExternalList, { refpeer: ['devices/'] }, { refpeer: ['devices/'] }],
  ])('%s', (_name, parse, raw, expected) => {
    expect(parse(raw)).toEqual(expected);
  });
  it.each<[string, (raw: unknown) => unknown, unknown, RegExp]>([
    ['subscribe without prefix', parseSubscribeRequest, {}, /prefix/],
    ['subscribe numeric prefix', parseSubscribeRequest, { prefix: 5 }, /prefix/],
    ['subscribe not JSON', parseSubscribeRequest, b('{nope'), /not JSON/],
    ['subscribe a list', parseSubscribeRequest, [], /\(root\)/],
    ['unsubscribe empty', parseUnsubscribeRequest, {}, /prefix/],
    ['unsubscribe bad scope', parseUnsubscribeRequest, { internal: 5 }, /internal/],
    ['publish headers not a dict', parsePublishRequest, { headers: [] }, /headers/],
    ['delivered without sender', parseDeliveredPublish, { bus: '' }, /sender/],
    ['list reverse not bool', parseListRequest, { reverse: 'yes' }, /reverse/],
    ['list_response bad row', parseListResponse, [['', 'a']], /0/],
    ['synchronize prefixes not list', parseSynchronizeRequest, { subscriptions: { internal: { '': 'a' } } }, /subscriptions/],
    ['protected_update no topic', parseProtectedUpdate, { 'write-protect': [{ capabilities: [] }] }, /topic/],
    ['external_list not list', parseExternalList, { a: 'b' }, /a/],
  ])('rejects %s', (_name, parse, raw, why) => {
    const r = parse(raw);
    expect(r).toBeInstanceOf(InvalidPayloadError);
    expect((r as InvalidPayloadError).message).toMatch(why);
  });
  it('never throws on garbage', () => {
    for (const g of [null, undefined, 5, 'x', b(''), b('\xff\xfe'), [1], { __proto__: { prefix: 'a' } }]) {
      for (const parse of [
        parseSubscribeRequest,
        parseUnsubscribeRequest,
        parsePublishRequest,
        parseListRequest,
        parseSynchronizeRequest,
      ]) {
        expect(() => parse(g)).not.toThrow();
      }
    }
  });
});

describe('peerlist, query, hello', () => {
  it('peerlist ops and the router error texts', () => {
    expect(parsePeerlistOp([b('list')])).toBe('list');
    expect(parsePeerlistOp([b('list_with_messagebus')])).toBe('list_with_messagebus');
    expect(parsePeerlistOp([])).toMatchObject({ detail: 'missing operation' });
    expect(parsePeerlistOp([b('bogus')])).toMatchObject({ detail: 'unknown operation' });
  });
  it('query properties', () => {
    expect(isQueryProperty('serverkey')).toBe(true);
    expect(isQueryProperty('agent-monitor-frequency')).toBe(true);
    expect(isQueryProperty('nope')).toBe(false);
  });
  it('welcome args match the transcript and parse back', () => {
    const reply = loadTranscript('agent_hello_welcome').find((e) => e.frames[5]?.toString() === 'welcome');
    const args = (reply?.frames ?? []).slice(5);
    expect(welcomeArgs(b('9841d2b0-dd56-4e75-a990-f155d41b0d7e'), b('cap.agent'))).toEqual(args);
    expect(parseWelcome(args)).toEqual({ version: '1.0', routerIdentity: args[2], peerIdentity: b('cap.agent') });
    expect(parseWelcome(args.slice(0, 3))).toBeInstanceOf(InvalidPayloadError);
    expect(parseWelcome([b('hello'), b('1.0'), b('r'), b('p')])).toBeInstanceOf(InvalidPayloadError);
  });
});
