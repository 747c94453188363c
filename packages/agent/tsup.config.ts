import { libraryConfig } from '../../tools/tsup/presets';

export default libraryConfig(['src/index.ts', 'src/zmq.ts', 'src/rmq.ts']);
