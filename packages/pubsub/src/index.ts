// Public API of @vip/pubsub: every export is listed by name.
export const PACKAGE_NAME = '@vip/pubsub';
