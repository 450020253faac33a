import { describe, expect, it } from 'vitest';
import { HealthResponse } from '@crius/common/proto/health';
import { statusFrom, type HealthResult } from './status.js';

const healthy = (service: HealthResult['service'], conditions: HealthResponse['conditions'] = []): HealthResult => ({
  service,
  health: HealthResponse.fromPartial({ service, ready: true, version: '1', pid: 1, conditions }),
});
const all = (network: HealthResult): HealthResult[] => [healthy('image'), healthy('storage'), healthy('runtime'), network, healthy('monitor')];

describe('Status aggregation', () => {
  it('is ready when every runtime service is ready and passes network-svc\'s condition through', () => {
    const s = statusFrom(all(healthy('network', [{ type: 'NetworkReady', status: true, reason: '', message: '' }])), false, ['runc']);
    expect(s.status?.conditions).toEqual([
      { type: 'RuntimeReady', status: true, reason: '', message: '' },
      { type: 'NetworkReady', status: true, reason: '', message: '' },
    ]);
    expect(s.info).toEqual({});
    expect(s.runtimeHandlers.map((h) => h.name)).toEqual(['runc']);
  });

  it('lists the default handler a second time under the empty name, with its features', () => {
    const s = statusFrom(all(healthy('network')), false, ['runc', 'crun'], 'crun');
    expect(s.runtimeHandlers.map((h) => h.name)).toEqual(['runc', 'crun', '']);
    expect(s.runtimeHandlers[2]!.features).toEqual(s.runtimeHandlers[1]!.features);
    expect(statusFrom(all(healthy('network')), false, ['runc'], 'gone').runtimeHandlers.map((h) => h.name)).toEqual(['runc']);
  });

  it('names the service that is down in RuntimeReady', () => {
    const results = all(healthy('network'));
    results[1] = { service: 'storage', error: 'storage-svc is not running (no responder for Health)' };
    const s = statusFrom(results, true, []);
    expect(s.status?.conditions[0]).toEqual({
      type: 'RuntimeReady',
      status: false,
      reason: 'ServiceUnavailable',
      message: 'storage-svc: storage-svc is not running (no responder for Health)',
    });
    expect(JSON.parse(s.info['storage-svc']!)).toEqual({ ready: false, error: 'storage-svc is not running (no responder for Health)' });
  });

  it('is NetworkReady=false with a reason when network-svc is down or silent', () => {
    const down = statusFrom(all({ service: 'network', error: 'gone' }), false, []);
    expect(down.status?.conditions[1]).toMatchObject({ status: false, reason: 'ServiceUnavailable', message: 'gone' });
    const silent = statusFrom(all(healthy('network')), false, []);
    expect(silent.status?.conditions[1]).toMatchObject({ status: false, reason: 'NetworkPluginNotReady' });
  });
});
