import { describe, expect, it } from 'vitest';
import { ContainerConfig, PodSandboxConfig } from '@crius/common/cri';
import { archiveName, checkNoOptions, containerConfigsFor, parsePodCheckpoint, podFiles } from './pod-layout.js';

const sandbox = PodSandboxConfig.fromPartial({ metadata: { name: 'web', uid: 'u1', namespace: 'ns', attempt: 0 }, hostname: 'web-0' });
const cfg = (name: string) => ContainerConfig.fromPartial({ metadata: { name, attempt: 0 }, image: { image: 'img' }, logPath: `${name}/0.log` });

function roundTrip() {
  const files = podFiles(sandbox, [{ name: 'app', config: cfg('app'), archive: 'app.tar' }, { name: 'side', config: cfg('side'), archive: 'side.tar' }], 'runc');
  return { files, cp: parsePodCheckpoint({ options: files['pod.options'], dump: files['pod.dump'], containers: files['pod.containers'] }, 'x') };
}

describe('pod checkpoint layout', () => {
  it('writes pod.dump where checkpointctl reads metadata and hostname, and pod.options with the archives', () => {
    const { files } = roundTrip();
    expect(JSON.parse(files['pod.dump']!)).toMatchObject({ metadata: { name: 'web', uid: 'u1', namespace: 'ns' }, hostname: 'web-0' });
    expect(JSON.parse(files['pod.options']!)).toMatchObject({ version: 1, containers: { app: 'app.tar', side: 'side.tar' }, runtimeHandler: 'runc' });
  });

  it('reads back what it wrote', () => {
    const { cp } = roundTrip();
    expect(cp.sandbox.metadata?.name).toBe('web');
    expect(cp.options.containers).toEqual({ app: 'app.tar', side: 'side.tar' });
    expect(cp.configs.get('side')?.logPath).toBe('side/0.log');
  });

  it('refuses what is not a pod checkpoint, naming the file', () => {
    expect(() => parsePodCheckpoint({}, 'dir D')).toThrow(/dir D is not a pod checkpoint: it has no pod.options/);
    expect(() => parsePodCheckpoint({ options: '{"version":2,"containers":{"a":"a.tar"}}', dump: '{}' }, 'x')).toThrow(/version 2 is not 1/);
    expect(() => parsePodCheckpoint({ options: '{"version":1,"containers":{}}', dump: '{}' }, 'x')).toThrow(/lists no containers/);
    expect(() => parsePodCheckpoint({ options: '{"version":1,"containers":{"a":"../../etc/x.tar"}}', dump: '{}' }, 'x')).toThrow(/not a .tar file in the checkpoint directory/);
    expect(() => parsePodCheckpoint({ options: '{"version":1,"containers":{"a":"a.tar"}}', dump: '{"hostname":"h"}' }, 'x')).toThrow(/pod.dump has no metadata.name/);
  });

  it('matches the caller’s container configs by name and wants exactly the checkpointed set', () => {
    const { cp } = roundTrip();
    const mine = [cfg('side'), { ...cfg('app'), labels: { mine: 'yes' } }];
    expect(containerConfigsFor(cp, mine, 'x').get('app')?.labels).toEqual({ mine: 'yes' });
    expect(() => containerConfigsFor(cp, [cfg('app')], 'x')).toThrow(/must name exactly the checkpointed containers \(app, side\)/);
    expect(() => containerConfigsFor(cp, [cfg('app'), cfg('app')], 'x')).toThrow(/twice/);
    expect(containerConfigsFor(cp, [], 'x').get('app')?.logPath).toBe('app/0.log');
  });

  it('names archives after DNS-label container names only', () => {
    expect(archiveName('app', 0)).toBe('app.tar');
    expect(archiveName('../x', 3)).toBe('container-3.tar');
  });

  it('refuses options, since none are defined', () => {
    expect(() => checkNoOptions({}, 'x')).not.toThrow();
    expect(() => checkNoOptions({ leaveRunning: 'false' }, 'CheckpointPod p')).toThrow(/CheckpointPod p: unsupported option leaveRunning/);
  });
});
