// runtime-svc: recover sandbox and container records, then serve them.
import type { ServiceDefinition } from '@crius/common';
import { runtimeEndpoints } from './bus.js';
import { monitorEndpoints } from './monitor-api.js';
import { checkpointEndpoints } from './checkpoint-bus.js';
import { LinuxSandboxOs } from './os/sandbox-os.js';
import { Runtime } from './runtime.js';
import { reconcileWithServices, recoverLocal } from './recover.js';
import { announceSecurityModules, securityConditions } from './security-status.js';

export const runtimeService: ServiceDefinition = {
  name: 'runtime',
  version: '0.1.0',
  async start({ config, dirs, log, bus }) {
    const rt = new Runtime({ config, dirs, log, bus, os: new LinuxSandboxOs() });
    await announceSecurityModules(rt);
    await recoverLocal(rt);
    rt.reconciled = reconcileWithServices(rt);
    return { endpoints: { ...runtimeEndpoints(rt), ...monitorEndpoints(rt), ...checkpointEndpoints(rt) }, conditions: () => securityConditions(rt) };
  },
};
