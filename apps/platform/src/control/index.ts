// The platform's `control` service agent (started by the platform app).
export { startControlService, exportControlMethods, CONTROL_IDENTITY, MANAGE_PLATFORM_STATS } from './control-service.js';
export type { ControlService, ControlServiceOptions, TrackerHandle } from './control-service.js';
