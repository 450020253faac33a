// storage-svc: bus wiring of the service. Methods it owns that are not wired yet
// answer UNIMPLEMENTED (see runService).
import type { ServiceDefinition } from '@crius/common';

export const storageService: ServiceDefinition = {
  name: 'storage',
  version: '0.1.0',
  async start() {
    return { endpoints: {} };
  },
};
