// Public API of @vip/testing: every export is listed by name.
export const PACKAGE_NAME = '@vip/testing';
