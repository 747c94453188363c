// Public API of @vip/zmq: every export is listed by name.
// Two owners during the first build-out: keep to your section.

// --- transport (VIP socket, router transport, agent connection) ---
export type { ZapMechanism, ZapAdmission, AdmissionSink } from './zap-contract.js';

// --- auth (ZAP handler, auth.json, keystore, known_hosts) ---
