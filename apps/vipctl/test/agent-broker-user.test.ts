import { describe, expect, it } from 'vitest';
import { checkBrokerIdentity, connectHint } from '../src/agent-broker-user.js';
import { CliError } from '../src/exit-codes.js';

describe('agent broker users', () => {
  it("never makes a user for one of the platform's identities (only <instance>.router may act as them)", () => {
    for (const id of ['router', 'control', 'platform.auth', 'control.connection', 'control.connection.ab12']) {
      expect(() => checkBrokerIdentity('v1', id)).toThrow(CliError);
      expect(() => checkBrokerIdentity('v1', id)).toThrow(
        new RegExp(`"${id.replaceAll('.', '\\.')}" is the platform's own identity: only the platform's broker user v1\\.router`),
      );
    }
    expect(() => checkBrokerIdentity('v1', 'platform.driver')).not.toThrow();
  });

  it('tells the operator the agent connects with connectRmqAgent({ identity }), which reads rmq.json (senderProof is in the file)', () => {
    const created = { user: 'v1.x', vhost: 'v', instanceName: 'v1', identity: 'x', path: '/h/keystores/x/rmq.json' };
    expect(connectHint(created)).toBe(
      'connectRmqAgent({ identity: "x" }) from @vip/agent/rmq, which reads /h/keystores/x/rmq.json ' +
        '(another home: its vipHome option or VIP_HOME); publishes resolve 1 as on VOLTTRON: this broker user has no management login',
    );
    expect(connectHint({ ...created, sharedLogin: true })).toMatch(/--rmq-shared-login, where no sender is proven$/);
  });
});
