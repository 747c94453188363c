/**
 * `platform.health` (VOLTTRON 9 HealthService) in a real platform process: rows from the router's
 * peer events, heartbeats and alerts published exactly as a Python agent publishes them (frames
 * of `agent_hello_welcome`), `get_platform_health` framed as `agent_platform_services` frames it,
 * a dropped peer gone from the report, and `vipctl health` (table and `--json`).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadTranscript,
  openRawClient,
  pythonRpcCall,
  startPlatform,
  waitFor,
  type PlatformProcess,
  type RawVipClient,
} from '@vip/testing';

let platform: PlatformProcess;
let py: RawVipClient;
let other: RawVipClient;

const HEALTH = 'platform.health';
const report = async (client: RawVipClient) =>
  (await pythonRpcCall(client, HEALTH, 'get_platform_health')).result as Record<string, Record<string, unknown>>;

/** `pubsub publish` as a Python agent's heartbeat and health subsystems frame it. */
async function pythonPublish(client: RawVipClient, topic: string, headers: Record<string, unknown>, message: unknown): Promise<void> {
  const id = `1795545820.000000.${Date.now()}.000000`;
  const body = JSON.stringify({ bus: '', headers, message }).replace(/","/g, '", "').replace(/":/g, '": ');
  await client.sendVip('', 'pubsub', ['publish', topic, body], { id });
  await client.receiveReply(id, 'pubsub');
}

beforeAll(async () => {
  platform = await startPlatform({ logLevel: 'info' });
  py = await openRawClient(platform, 'cap.cfg', { capabilities: { edit_config_store: { identity: 'cap.cfg' } } });
  other = await openRawClient(platform, 'other.agent');
});

afterAll(async () => {
  await Promise.all([py, other].map((c) => c?.close()));
  await platform?.close();
});

describe('platform.health', () => {
  it('answers the get_platform_health a Python agent sends, with rows for connected peers and service agents', async () => {
    const request = (await loadTranscript('agent_platform_services')).exchanges[0]!;
    const id = request.frames[3]!;
    await py.send(request.frames.slice(0));
    const frames = await py.receiveReply(id.toString(), 'RPC');
    expect(frames.slice(0, 3).map((f) => f.toString())).toEqual(['platform.health', 'VIP1', 'platform.health']);
    const reply = JSON.parse(frames[5]!.toString()) as { id: string; result: Record<string, Record<string, unknown>> };
    expect(reply.id).toBe(JSON.parse(request.frames[5]!.toString()).id);
    expect(reply.result['cap.cfg']).toMatchObject({
      peer: 'cap.cfg',
      service_agent: false,
      connected: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/),
    });
    expect(reply.result['platform.auth']).toMatchObject({ peer: 'platform.auth', service_agent: true });
    expect(reply.result['platform.health']).toMatchObject({ service_agent: true });
  });

  it('answers the platform.auth calls of the same capture as VOLTTRON did (the same bytes for get_authorizations)', async () => {
    const exchanges = (await loadTranscript('agent_platform_services')).exchanges;
    for (let i = 2; i < exchanges.length; i += 2) {
      const request = exchanges[i]!;
      const expected = exchanges[i + 1]!;
      await py.send(request.frames);
      const frames = await py.receiveReply(request.frames[3]!.toString(), 'RPC');
      expect(frames.slice(0, 3)).toEqual(expected.frames.slice(0, 3));
      const got = JSON.parse(frames[5]!.toString()) as { result: unknown };
      const want = JSON.parse(expected.frames[5]!.toString()) as { result: Record<string, unknown> | unknown[] };
      if (Array.isArray(want.result)) expect(frames[5]!.toString()).toBe(expected.frames[5]!.toString());
      else expect((got.result as Record<string, unknown>)['cap.cfg']).toEqual(want.result['cap.cfg']);
    }
  });

  it('records each heartbeat a Python agent publishes (status message, time) for its proven sender', async () => {
    const headers = { TimeStamp: '2026-11-24T18:43:39.495982+00:00', min_compatible_version: '3.0', max_compatible_version: '' };
    await pythonPublish(py, 'heartbeat/cap.cfg', headers, 'GOOD');
    await waitFor(async () => (await report(other))['cap.cfg']?.message === 'GOOD', { what: 'heartbeat recorded' });
    expect((await report(other))['cap.cfg']).toMatchObject({ last_heartbeat: expect.stringMatching(/T\d\d:\d\d:\d\d\.\d{6}$/) });
    // another agent publishing on cap.cfg's topic reports only for itself (pubsub's sender is the proven peer)
    await pythonPublish(other, 'heartbeat/cap.cfg', headers, 'BAD');
    await waitFor(async () => (await report(py))['other.agent']?.message === 'BAD', { what: 'own row' });
    expect((await report(py))['cap.cfg']?.message).toBe('GOOD');
  });

  it('keeps the last alert of an agent (health.send_alert) and forwards it to the platform log', async () => {
    const logged = platform.waitForLog('health.alert', { timeoutMs: 10_000 });
    await pythonPublish(
      py,
      'alerts/Agent/vip1_cap_cfg',
      { alert_key: 'temp_high', min_compatible_version: '3.0', max_compatible_version: '' },
      { context: 'too hot', status: 'BAD', last_updated: '2026-12-07T14:23:20.960642+00:00' },
    );
    expect(await logged).toMatchObject({ sender: 'cap.cfg', alert_key: 'temp_high' });
    await waitFor(async () => (await report(other))['cap.cfg']?.last_alert !== undefined, { what: 'alert recorded' });
    expect((await report(other))['cap.cfg']?.last_alert).toMatchObject({ key: 'temp_high', status: { status: 'BAD', context: 'too hot' } });
  });

  it('drops the row of a peer that leaves (agentstop)', async () => {
    const leaving = await openRawClient(platform, 'leaving.agent');
    await waitFor(async () => (await report(py))['leaving.agent'] !== undefined, { what: 'row added' });
    await leaving.sendVip('', 'agentstop', ['leaving.agent']);
    await waitFor(async () => (await report(py))['leaving.agent'] === undefined, { what: 'row dropped' });
    await leaving.close();
  });

  it('vipctl health prints the report, and --json the answer as it is', async () => {
    const bin = fileURLToPath(new URL('../../apps/vipctl/dist/main.js', import.meta.url));
    const run = (...args: string[]) =>
      promisify(execFile)(process.execPath, [bin, ...args, '--vip-home', platform.home], { timeout: 30_000 });
    const json = JSON.parse((await run('health', '--json')).stdout) as Record<string, Record<string, unknown>>;
    expect(json['cap.cfg']).toMatchObject({ peer: 'cap.cfg', message: 'GOOD', last_alert: { key: 'temp_high' } });
    const table = (await run('health')).stdout;
    expect(table.split('\n')[0]).toMatch(/^IDENTITY\s+SERVICE\s+STATUS\s+LAST HEARTBEAT\s+CONNECTED\s+LAST ALERT$/);
    expect(table).toMatch(/cap\.cfg\s+no\s+GOOD\s+/);
    expect(table).not.toMatch(/control\.connection/);
  });
});
