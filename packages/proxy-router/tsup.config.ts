import { libraryConfig } from '../../tools/tsup/presets';

export default libraryConfig();
