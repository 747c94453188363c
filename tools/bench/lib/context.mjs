// Figures measured outside the current run: another day, another platform, sometimes other
// clients. A benchmark may print them beside its table so a reader can place its figures, but it
// never decides a target from them: a target is decided only from baselines measured in the same
// run with the same clients (BENCHMARKS.md, "How targets are decided"). Every line printed from
// here starts with CONTEXT_PREFIX, and the JSON keeps them under `context`, apart from `targets`.

export const CONTEXT_PREFIX = 'context, not a decider:';

// VOLTTRON 9.0.4 on the same 2-core machine, 2026-12-07 (BENCHMARKS.md "VOLTTRON 9.0.4, like for
// like"). `rawClients`: the same raw zeromq.js CURVE clients on both routers, 3 alternating
// rounds, with vip's figures from the same rounds. `pythonAgents`: VOLTTRON's own Python agents,
// whose cost dominates; they measure Python agents, not VOLTTRON's router, and compare with
// nothing this repository runs.
export const VOLTTRON_9_0_4 = {
  rawClients: {
    pubsubWindow: { volttron: 5595, vip: 15966 },
    pubsubEachAck: { volttron: 2044, vip: 2421 },
    rpc: { volttron: 1523, volttronP50us: 635, vip: 1625, vipP50us: 581 },
  },
  pythonAgents: { pubsubWindow: 3835, pubsubEachAck: 1487, rpc: 1014, rpcP50us: 943 },
};

const n = (x) => x.toLocaleString('en-US');

/** Prints each line with the context prefix (stdout, after the table and before the JSON line). */
export function printContext(lines) {
  for (const line of lines) console.log(`${CONTEXT_PREFIX} ${line}`);
}

/** Context lines for tools/bench/pubsub.mjs (a1: window, a2: each ack). */
export function pubsubContext() {
  const { rawClients: r, pythonAgents: p } = VOLTTRON_9_0_4;
  return [
    `VOLTTRON 9.0.4's router, same raw zeromq.js CURVE clients, measured apart (2026-12-07): a1 ${n(r.pubsubWindow.volttron)}/s, a2 ${n(r.pubsubEachAck.volttron)}/s` +
      ` (vip in those rounds ${n(r.pubsubWindow.vip)}/s, ${n(r.pubsubEachAck.vip)}/s)`,
    `VOLTTRON 9.0.4 with Python agents (their own cost dominates; no client here is like them): a1 ${n(p.pubsubWindow)}/s, a2 ${n(p.pubsubEachAck)}/s`,
  ];
}

/** Context lines for tools/bench/rpc.mjs (sequential calls). */
export function rpcContext() {
  const { rawClients: r, pythonAgents: p } = VOLTTRON_9_0_4;
  return [
    `VOLTTRON 9.0.4's router, same raw zeromq.js CURVE clients (like --modes raw), measured apart (2026-12-07): ${n(r.rpc.volttron)} calls/s, p50 ${r.rpc.volttronP50us} us` +
      ` (vip in those rounds ${n(r.rpc.vip)} calls/s, p50 ${r.rpc.vipP50us} us)`,
    `VOLTTRON 9.0.4 with Python agents (their own cost dominates; no client here is like them): ${n(p.rpc)} calls/s, p50 ${p.rpcP50us} us`,
  ];
}
