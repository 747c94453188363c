// Public API of @vip/rmq: every export is listed by name.
export const PACKAGE_NAME = '@vip/rmq';
