// monitor-svc process entry: recover state, then serve the bus methods it owns.
import { runService } from '@crius/common';
import { monitorService } from './service.js';

runService(monitorService).catch((err) => {
  process.stderr.write(`monitor-svc: ${(err as Error).message}\n`);
  process.exit(1);
});
