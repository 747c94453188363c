// The bare zeromq.js ROUTER the baselines use: the platform's socket options (ZmqRouterTransport),
// a CURVE server with a fresh key (unless `curve` is false), bound on `address`.
import { Router, curveKeyPair } from 'zeromq';

export async function bindBareRouter({ address = 'tcp://127.0.0.1:0', curve = true } = {}) {
  const keys = curveKeyPair();
  const router = new Router({
    mandatory: true,
    sendTimeout: 0,
    sendHighWaterMark: 6000,
    receiveHighWaterMark: 6000,
    ...(curve ? { curveServer: true, curveSecretKey: keys.secretKey } : {}),
  });
  await router.bind(address);
  return { router, serverkey: curve ? keys.publicKey : '' };
}
