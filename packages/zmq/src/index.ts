// Public API of @vip/zmq: every export is listed by name.
export const PACKAGE_NAME = '@vip/zmq';
