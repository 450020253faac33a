// Status against the api.proto contract: the required conditions RuntimeReady and NetworkReady,
// info only when verbose (JSON values), runtime_handlers with unique names and the default
// handler also under the empty name (as CRI-O and containerd list it), and features that hold:
// supplemental_groups_policy means SupplementalGroupsPolicy works and ContainerUser is filled.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { SupplementalGroupsPolicy, type StatusResponse } from '@crius/common/cri';
import { ok, pb } from './helpers.js';
import { IMAGE_GROUP, containerPid, containerStatus, exec, runContainer, runPod, useRuntimeEnv, type RuntimeEnv } from './runtime-env.js';

let env: RuntimeEnv;
useRuntimeEnv((e) => (env = e));

const byNumber = (a: number, b: number) => a - b;
const statusOf = (body: Buffer) => ok<StatusResponse>(env.client, 'Status', body);

describe('Status', () => {
  it('minimal request (zero bytes): RuntimeReady and NetworkReady true, no info', async () => {
    const r = await statusOf(Buffer.alloc(0));
    const conditions = r.status!.conditions;
    expect(new Set(conditions.map((c) => c.type)).size).toBe(conditions.length);
    expect(conditions.find((c) => c.type === 'RuntimeReady')).toMatchObject({ status: true });
    expect(conditions.find((c) => c.type === 'NetworkReady')).toMatchObject({ status: true });
    expect(r.info).toEqual({});
  });

  it('lists every configured handler once, and the default one again under the empty name', async () => {
    const { runtimeHandlers } = await statusOf(Buffer.alloc(0));
    const names = runtimeHandlers.map((h) => h.name);
    expect(new Set(names).size).toBe(names.length);
    const configured = Object.keys(env.s.config.runtime.handlers);
    expect(names.filter((n) => n !== '').sort()).toEqual(configured.sort());
    expect(names).toContain('');
    const byName = new Map(runtimeHandlers.map((h) => [h.name, h]));
    expect(byName.get('')!.features).toEqual(byName.get(env.s.config.runtime.default_handler)!.features);
    for (const h of runtimeHandlers) expect(h.features, h.name).toBeDefined();
  });

  it('full request (verbose): every info value is JSON', async () => {
    const r = await statusOf(pb.bool(1, true));
    expect(Object.keys(r.info).length).toBeGreaterThan(0);
    for (const [k, v] of Object.entries(r.info)) expect(() => JSON.parse(v), k).not.toThrow();
    expect(r.status!.conditions.map((c) => c.type)).toEqual(expect.arrayContaining(['RuntimeReady', 'NetworkReady']));
  });

  it('advertises supplemental_groups_policy, and Merge and Strict do what it promises, ContainerUser included', async () => {
    const { features } = await statusOf(Buffer.alloc(0));
    expect(features?.supplementalGroupsPolicy).toBe(true);
    const pod = await runPod(env);
    const groupsOf = async (name: string, policy: SupplementalGroupsPolicy) => {
      const sc = { namespaceOptions: { network: 0, pid: 1, ipc: 0 }, runAsUser: { value: 0 }, supplementalGroups: [4242], supplementalGroupsPolicy: policy };
      const id = await runContainer(env, pod, name, ['sleep', '3600'], { linux: { securityContext: sc } });
      const inside = (await exec(env, id, 'id -G')).out.trim().split(' ').map(Number).sort(byNumber);
      // ContainerUser: the groups the first process got, as the kernel has them.
      const kernel = (await readFile(`/proc/${await containerPid(env, id)}/status`, 'utf8')).match(/^Groups:\s*(.*)$/m)![1]!;
      const user = (await containerStatus(env, id)).status!.user!.linux!;
      expect(user.supplementalGroups.map(Number).sort(byNumber), name).toEqual(kernel.trim().split(/\s+/).map(Number).sort(byNumber));
      expect(user.uid, name).toBe(0n);
      return inside;
    };
    // Merge (the default): the image's /etc/group membership and the requested group.
    expect(await groupsOf('merge', SupplementalGroupsPolicy.Merge)).toEqual([0, IMAGE_GROUP, 4242]);
    // Strict: only what was asked for.
    expect(await groupsOf('strict', SupplementalGroupsPolicy.Strict)).toEqual([0, 4242]);
    await ok(env.client, 'RemovePodSandbox', { podSandboxId: pod.id });
  });
});
