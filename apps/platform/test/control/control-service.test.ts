import { expect, it } from 'vitest';
import { Agent } from '@vip/agent';
import type { AgentConnection } from '@vip/protocol';
import { exportControlMethods } from '../../src/control/index.js';

it('exports the stats RPCs VOLTTRON names (behaviour is covered by tests/integration/vipctl.test.ts)', () => {
  const tracker = { enabled: false, enable() {}, disable() {}, get: () => ({}) };
  const agent = new Agent({ identity: 'control', connection: () => ({}) as AgentConnection });
  exportControlMethods(agent, tracker);
  expect(agent.rpc.exportedNames()).toEqual(expect.arrayContaining(['stats.enable', 'stats.disable', 'stats.get', 'stats.enabled']));
});
