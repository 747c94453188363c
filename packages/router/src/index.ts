// Public API of @vip/router: every export is listed by name.
export const PACKAGE_NAME = '@vip/router';
