// runtime-svc process entry: recover state, then serve the bus methods it owns.
import { runService } from '@crius/common';
import { runtimeService } from './service.js';

runService(runtimeService).catch((err) => {
  process.stderr.write(`runtime-svc: ${(err as Error).message}\n`);
  process.exit(1);
});
