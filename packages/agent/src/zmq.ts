// Public API of @vip/agent/zmq: every export is listed by name.
export const PACKAGE_NAME = '@vip/agent';
