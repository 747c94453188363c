import { libraryConfig } from '../../tools/tsup/presets';

// One build, three entries (index, pubsub, admin) sharing chunks: one copy of each class.
export default libraryConfig(['src/index.ts', 'src/pubsub.ts', 'src/admin.ts']);
