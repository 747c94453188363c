// Public API of @vip/agent: every export is listed by name.
export const PACKAGE_NAME = '@vip/agent';
