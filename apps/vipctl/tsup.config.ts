import { appConfig } from '../../tools/tsup/presets';

export default appConfig();
