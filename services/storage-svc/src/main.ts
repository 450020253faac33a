// storage-svc process entry: recover state, then serve the bus methods it owns.
import { runService } from '@crius/common';
import { storageService } from './service.js';

runService(storageService).catch((err) => {
  process.stderr.write(`storage-svc: ${(err as Error).message}\n`);
  process.exit(1);
});
