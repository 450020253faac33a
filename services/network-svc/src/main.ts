// network-svc process entry: recover state, then serve the bus methods it owns.
import { runService } from '@crius/common';
import { networkService } from './service.js';

runService(networkService).catch((err) => {
  process.stderr.write(`network-svc: ${(err as Error).message}\n`);
  process.exit(1);
});
