// Public API of @vip/keydiscovery: every export is listed by name.
export const PACKAGE_NAME = '@vip/keydiscovery';
