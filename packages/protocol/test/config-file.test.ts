import { describe, expect, it } from 'vitest';
import { describeUnknownConfigKey, parseConfigFile } from '../src/config-file.js';

describe('$VIP_HOME/config', () => {
  it('reads [volttron] key = value (`_` as `-`, any case), ignores other sections and VOLTTRON-only keys', () => {
    // bind-web-address is read since issue 15 (the platform serves /discovery/ there; an https one is VOLTTRON's own and ignored)
    const text =
      '# comment\n[volttron]\nmessage_bus = rmq\nInstance-Name: v1\nbind-web-address = https://x:8443\nweb-ssl-cert = c.pem\n; c\n[other]\nwhatever = 1\n';
    expect(parseConfigFile(text, '/h/config')).toEqual({
      values: { 'message-bus': 'rmq', 'instance-name': 'v1', 'bind-web-address': 'https://x:8443' },
      unknown: [],
    });
  });

  it('reports unknown keys with their line and the key they most resemble', () => {
    const r = parseConfigFile('[volttron]\nmesage-bus = rmq\nfrobnicate = 1\nlog-levl = debug\n', '/h/config');
    expect(r.values).toEqual({});
    expect(r.unknown).toEqual([
      { key: 'mesage-bus', line: 2, suggestion: 'message-bus' },
      { key: 'frobnicate', line: 3 },
      { key: 'log-levl', line: 4, suggestion: 'log-level' },
    ]);
    expect(describeUnknownConfigKey('/h/config', r.unknown[0]!)).toBe(
      '/h/config:2: unknown key "mesage-bus" (did you mean message-bus?); ignored',
    );
    expect(describeUnknownConfigKey('/h/config', r.unknown[1]!)).toBe('/h/config:3: unknown key "frobnicate"; ignored');
  });

  it('refuses a line that is not key = value, naming file and line', () => {
    expect(() => parseConfigFile('[volttron]\njust words\n', '/h/config')).toThrow(/\/h\/config:2: expected "key = value"/);
  });
});
