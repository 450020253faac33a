// RuntimeConfig against the api.proto contract: the Linux cgroup driver the kubelet must use,
// "static for the lifecycle of the Kubelet" (the same on every call), and the truth: with
// cgroupfs the containers' cgroups are plain paths under the pod's cgroup_parent, not systemd
// slices. (The systemd driver is issue 16.)
import { describe, expect, it } from 'vitest';
import { CgroupDriver, type RuntimeConfigResponse } from '@crius/common/cri';
import { ok } from './helpers.js';
import { cgroupOf, containerPid, runContainer, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

describe('RuntimeConfig', () => {
  it('the request (no fields: minimal and full are zero bytes): the configured driver, the same on every call', async () => {
    expect(env.s.config.runtime.cgroup_manager).toBe('cgroupfs');
    const r = await ok<RuntimeConfigResponse>(env.client, 'RuntimeConfig', Buffer.alloc(0));
    expect(r.linux?.cgroupDriver).toBe(CgroupDriver.CGROUPFS);
    for (let i = 0; i < 3; i++) expect(await ok<RuntimeConfigResponse>(env.client, 'RuntimeConfig', Buffer.alloc(0))).toEqual(r);
  });

  it('CGROUPFS holds: a container\'s cgroup is a path under its pod\'s cgroup_parent', async () => {
    const pod = await runPod(env);
    const id = await runContainer(env, pod, 'c', ['sleep', '3600']);
    const parent = pod.config.linux.cgroupParent;
    for (const controller of ['memory', 'cpu', 'pids']) {
      const cg = await cgroupOf(await containerPid(env, id), controller);
      expect(cg.startsWith(`${parent}/`), `${controller}: ${cg}`).toBe(true);
      expect(cg, controller).not.toMatch(/\.slice|\.scope/);
      expect(cg, controller).toContain(id);
    }
  });
});
