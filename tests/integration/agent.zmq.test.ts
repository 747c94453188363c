import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, type CurveKeyPair } from '@vip/protocol';
import { freePort, startPlatform, type PlatformProcess } from '@vip/testing';
import { AuthFile } from '@vip/auth';
import { createZmqAgent } from '@vip/agent/zmq';
import { describeAgentSuite, type AgentSuitePlatform } from './agent.suite.js';

describeAgentSuite({
  name: 'zmq (tcp, CURVE)',
  async startPlatform(): Promise<AgentSuitePlatform> {
    const home = await mkdtemp(join(tmpdir(), 'vip-agent-suite-'));
    const address = `tcp://127.0.0.1:${await freePort()}`;
    const launch = () => startPlatform({ args: ['--vip-home', home, '--vip-address', address], logLevel: 'info' });
    let platform: PlatformProcess = await launch();
    const serverKey = platform.serverkey ?? '';
    const authFile = new AuthFile({ path: join(home, 'auth.json') });
    const users = new Map<string, Promise<CurveKeyPair>>();
    const keysFor = (userId: string): Promise<CurveKeyPair> => {
      let p = users.get(userId);
      if (!p) {
        p = (async () => {
          const pair = generateKeyPair();
          await authFile.add({ credentials: pair.public, user_id: userId, comments: 'agent suite' });
          await platform.authLoaded({ vipHome: home, timeoutMs: 10_000 });
          return pair;
        })();
        users.set(userId, p);
      }
      return p;
    };
    return {
      async connect(identity, options = {}) {
        const pair = await keysFor(options.userId ?? 'suite');
        const agent = await createZmqAgent({
          identity,
          address,
          serverKey,
          publicKey: pair.public,
          secretKey: pair.secret,
          vipHome: home,
          reconnectIntervalMs: 100,
          ...options.agent,
        });
        await agent.start();
        return agent;
      },
      async restart() {
        await platform.close();
        platform = await launch();
      },
      async close() {
        await platform.close();
        await rm(home, { recursive: true, force: true });
      },
    };
  },
});
