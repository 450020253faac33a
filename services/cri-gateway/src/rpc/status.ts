// Status: the services' health folded into the two conditions kubelet reads.
// RuntimeReady needs runtime, image, storage and monitor ready; NetworkReady
// is network-svc's own NetworkReady condition. A service that does not answer
// makes its condition false with a reason naming it, never a hang.
import { SERVICES, processName, toCriusError, type BusClient, type ServiceName } from '@crius/common';
import type { RuntimeCondition, StatusResponse } from '@crius/common/cri';
import { HealthRequest, HealthResponse } from '@crius/common/proto/health';

export const RUNTIME_READY = 'RuntimeReady';
export const NETWORK_READY = 'NetworkReady';
const RUNTIME_SERVICES: readonly ServiceName[] = ['runtime', 'image', 'storage', 'monitor'];
const HEALTH_TIMEOUT_MS = 2000;

export type HealthResult = { service: ServiceName; health?: HealthResponse; error?: string };

export async function collectHealth(bus: BusClient, deadline?: number): Promise<HealthResult[]> {
  const until = Math.min(deadline ?? Infinity, Date.now() + HEALTH_TIMEOUT_MS);
  return Promise.all(
    SERVICES.map(async (service) => {
      try {
        const health = await bus.call(service, 'Health', HealthRequest, HealthResponse, {}, { deadline: until });
        return { service, health };
      } catch (err) {
        return { service, error: toCriusError(err).message };
      }
    }),
  );
}

/** `defaultHandler` is listed a second time under the empty name ("denotes the default handler"), as CRI-O and containerd do. */
export function statusFrom(results: HealthResult[], verbose: boolean, handlers: readonly string[], defaultHandler?: string): StatusResponse {
  const byName = new Map(results.map((r) => [r.service, r]));
  const down = RUNTIME_SERVICES.filter((s) => !byName.get(s)?.health?.ready);
  const runtime: RuntimeCondition = down.length
    ? {
        type: RUNTIME_READY,
        status: false,
        reason: 'ServiceUnavailable',
        message: down.map((s) => `${processName(s)}: ${byName.get(s)?.error ?? 'not ready'}`).join('; '),
      }
    : { type: RUNTIME_READY, status: true, reason: '', message: '' };
  const net = byName.get('network');
  const reported = net?.health?.conditions.find((c) => c.type === NETWORK_READY);
  const network: RuntimeCondition = reported
    ? { type: NETWORK_READY, status: reported.status, reason: reported.reason, message: reported.message }
    : {
        type: NETWORK_READY,
        status: false,
        reason: net?.health ? 'NetworkPluginNotReady' : 'ServiceUnavailable',
        message: net?.error ?? `${processName('network')} reports no network condition`,
      };
  const info: Record<string, string> = {};
  if (verbose) {
    for (const r of results) {
      info[processName(r.service)] = JSON.stringify(
        r.health
          ? {
              ready: r.health.ready,
              version: r.health.version,
              pid: r.health.pid,
              // What a service reports of the node (runtime-svc: AppArmor, SELinux).
              ...(r.health.conditions.length ? { conditions: r.health.conditions } : {}),
            }
          : { ready: false, error: r.error },
      );
    }
  }
  const runtimeHandlers = handlers.map((name) => ({
    name,
    features: { recursiveReadOnlyMounts: false, userNamespaces: false },
  }));
  const byDefault = runtimeHandlers.find((h) => h.name === defaultHandler);
  if (byDefault) runtimeHandlers.push({ ...byDefault, name: '' });
  return {
    status: { conditions: [runtime, network] },
    info,
    runtimeHandlers,
    features: { supplementalGroupsPolicy: true, userNamespacesHostNetwork: false },
  };
}
