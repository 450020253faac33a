import { describe, expect, it } from 'vitest';
import { CRI_ROUTES, criMethods, methodsOwnedBy } from './routes.js';
import { MAY_CALL, permissionsFor } from './permissions.js';

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

  it('lets the gateway call every service that owns a CRI method', () => {
    const owners = new Set(criMethods().map((m) => m.owner).filter((o) => o !== 'gateway'));
    for (const o of owners) expect(MAY_CALL.gateway).toContain(o);
  });
});

describe('bus permissions', () => {
  it('image-svc may publish only to storage requests and image events', () => {
    expect(permissionsFor('image').publish.sort()).toEqual(['crius.v1.events.image.>', 'crius.v1.events.pull.>', 'crius.v1.storage.>']);
    expect(permissionsFor('image').subscribe).toContain('crius.v1.image.>');
    expect(permissionsFor('image').subscribe).not.toContain('crius.v1.events.>');
  });

  it('the launcher may call Health anywhere and only ImportImage of image-svc', () => {
    expect(permissionsFor('launcher').publish.sort()).toEqual(['crius.v1.*.Health', 'crius.v1.image.ImportImage']);
  });

  it('storage-svc calls nobody and publishes no events', () => {
    expect(permissionsFor('storage').publish).toEqual([]);
  });

  it('stream pipes: the gateway sends up and reads down; runtime-svc and network-svc the reverse; nobody else', () => {
    const gw = permissionsFor('gateway');
    expect(gw.publish).toContain('crius.v1.streams.*.up');
    expect(gw.subscribe).toContain('crius.v1.streams.*.down');
    expect(gw.publish).not.toContain('crius.v1.streams.*.down');
    for (const svc of ['runtime', 'network'] as const) {
      expect(permissionsFor(svc).publish).toContain('crius.v1.streams.*.down');
      expect(permissionsFor(svc).subscribe).toContain('crius.v1.streams.*.up');
      expect(permissionsFor(svc).publish).not.toContain('crius.v1.streams.*.up');
    }
    for (const other of ['image', 'storage', 'monitor', 'launcher', 'observer'] as const) {
      expect([...permissionsFor(other).publish, ...permissionsFor(other).subscribe].some((s) => s.includes('streams'))).toBe(false);
    }
  });

  it('every user has a private inbox prefix', () => {
    expect(permissionsFor('gateway').subscribe).toContain('_INBOX_gateway.>');
    expect(permissionsFor('runtime').subscribe).not.toContain('_INBOX_gateway.>');
  });
});
