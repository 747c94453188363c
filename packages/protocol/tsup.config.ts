import { libraryConfig } from '../../tools/tsup/presets';

export default libraryConfig(['src/index.ts', 'src/internal.ts']);
