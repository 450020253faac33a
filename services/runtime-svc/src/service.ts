// runtime-svc: recover sandbox and container records, then serve them.
import type { ServiceDefinition } from '@crius/common';
import { runtimeEndpoints } from './bus.js';
import { Runtime } from './runtime.js';

export const runtimeService: ServiceDefinition = {
  name: 'runtime',
  version: '0.1.0',
  async start({ dirs, log }) {
    const rt = new Runtime(dirs.state, log);
    await rt.load();
    return { endpoints: runtimeEndpoints(rt) };
  },
};
