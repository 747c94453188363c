// Public API of @vip/proxy-router: every export is listed by name.
export const PACKAGE_NAME = '@vip/proxy-router';
