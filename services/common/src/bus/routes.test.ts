import { describe, expect, it } from 'vitest';
import { CRI_ROUTES, criMethods, methodsOwnedBy } from './routes.js';

describe('routing table', () => {
  it('routes each of the 43 CRI methods exactly once', () => {
    const methods = criMethods();
    expect(methods).toHaveLength(43);
    expect(new Set(methods.map((m) => m.name)).size).toBe(43);
    expect(Object.keys(CRI_ROUTES).sort()).toEqual(methods.map((m) => m.name).sort());
  });

  it('keeps the gateway to Version, Status, the event relay and streaming URLs', () => {
    expect(criMethods().filter((m) => m.owner === 'gateway').map((m) => m.name).sort()).toEqual(['Attach', 'Exec', 'GetContainerEvents', 'PortForward', 'Status', 'Version']);
  });

  it('gives image-svc the whole ImageService', () => {
    expect(methodsOwnedBy('image').sort()).toEqual(['ImageFsInfo', 'ImageStatus', 'ListImages', 'PullImage', 'RemoveImage', 'StreamImages']);
  });
});
