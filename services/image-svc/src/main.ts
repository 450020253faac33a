// image-svc process entry: recover state, then serve the bus methods it owns.
import { runService } from '@crius/common';
import { imageService } from './service.js';

runService(imageService).catch((err) => {
  process.stderr.write(`image-svc: ${(err as Error).message}\n`);
  process.exit(1);
});
