// The `crius` CLI end to end: the built command run as a user runs it against
// a private stack and a real registry — pull, images, pods, containers, logs
// (-f too), exec, stats, run, --endpoint to a second stack, and the errors a
// user meets (a malformed pod file, an unreachable socket).
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type TestStack } from '../harness/stack.js';
import { waitFor } from '../harness/pod.js';
import { buildImage, pushImage } from '../fixtures/oci-image.js';
import { startRegistry, type RunningRegistry } from '../fixtures/registry.js';
import { REPO_ROOT } from '../../services/cli/src/launcher/stack.js';
import { watchPullProgress } from '../../services/cli/src/pull-progress.js';
import { CliProcess, crius as runCli, writeCtrConfig, writePodConfig } from './helpers.js';

let reg: RunningRegistry;
let s: TestStack;
let image: string;
const crius = (...args: string[]) => runCli(['--config', s.configPath, ...args]);
const ok = async (...args: string[]) => {
  const r = await crius(...args);
  if (r.code !== 0) throw new Error(`crius ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};
const json = async <T = any>(...args: string[]): Promise<T> => JSON.parse(await ok(...args)) as T; // eslint-disable-line @typescript-eslint/no-explicit-any
const stateOf = async (id: string) => (await json('inspect', id)).status.state as string;

beforeAll(async () => {
  await promisify(execFile)('npx', ['tsc', '-b', 'services/cli'], { cwd: REPO_ROOT });
  reg = await startRegistry();
  await pushImage(reg.url, 'cli/busybox', '1', await buildImage({ cmd: ['sh'] }));
  await pushImage(reg.url, 'cli/other', '2', await buildImage({ cmd: ['sh'], labels: { other: 'yes' } }));
  image = `${reg.host}/cli/busybox:1`;
  s = await startStack();
}, 120_000);
afterAll(async () => {
  await s?.stop();
  await reg?.stop();
});

describe('crius CLI against the gateway', () => {
  it('version and info answer from the gateway', async () => {
    expect(await ok('version')).toMatch(/^crius \S+ \(CRI v1\)\n$/);
    const info = await json('info');
    expect(info.status.conditions.map((c: { type: string; status: boolean }) => [c.type, c.status])).toContainEqual(['RuntimeReady', true]);
    expect(info.info['runtime-svc']).toMatchObject({ ready: true, pid: expect.any(Number) });
  });

  it('pulls an image, lists and inspects it', async () => {
    const pulled = await ok('pull', image);
    const id = /^Image is up to date for (sha256:[0-9a-f]{64})\n$/.exec(pulled)?.[1];
    expect(id).toBeDefined();
    const table = (await ok('images')).split('\n');
    expect(table[0]).toMatch(/^IMAGE\s+TAG\s+IMAGE ID\s+SIZE$/);
    expect(table.find((l) => l.startsWith(`${reg.host}/cli/busybox `))).toMatch(new RegExp(`\\s1\\s+${id!.slice(7, 20)}\\s+[\\d.]+[kM]B$`));
    expect((await ok('images', '-q')).trim().split('\n')).toContain(id);
    const listed = await json('images', '-o', 'json');
    const img = listed.images.find((i: { id: string }) => i.id === id);
    expect(typeof img.size).toBe('string'); // bigints as strings
    expect(img.repoTags).toEqual([image]);
    const inspected = await json('inspecti', image);
    expect(inspected.status).toMatchObject({ id, repoTags: [image] });
  });

  it('publishes per-layer pull progress on the bus for the observer', async () => {
    const layers = new Set<string>();
    const other = `${reg.host}/cli/other:2`;
    const stop = await watchPullProgress(s.config, other, (p) => layers.add(p.layerDigest));
    expect(stop).toBeDefined();
    await ok('pull', '-q', other);
    await stop!();
    expect(layers.size).toBe(2);
    expect((await ok('rmi', other)).trim()).toBe(`Deleted: ${other}`);
  });

  it('runs a pod and a container from crictl-style files, then lists, logs, execs, stops and removes them', async () => {
    const pod = await writePodConfig(s.dir, 'web', 'yaml');
    const podId = (await ok('runp', pod.file)).trim();
    expect(podId).toMatch(/^[0-9a-f]{64}$/);
    const pods = (await ok('pods')).split('\n');
    expect(pods[0]).toMatch(/^POD ID\s+CREATED\s+STATE\s+NAME\s+NAMESPACE\s+ATTEMPT\s+RUNTIME$/);
    expect(pods[1]).toMatch(new RegExp(`^${podId.slice(0, 13)}\\s+(Less than a second|\\d+ seconds?) ago\\s+Ready\\s+web\\s+cli\\s+0\\s+`));
    expect((await json('inspectp', podId.slice(0, 8))).status).toMatchObject({ id: podId, state: 'SANDBOX_READY' });

    const script = 'echo one; echo two >&2; printf part; sleep 0.1; echo ial; echo three';
    const ctr = await writeCtrConfig(s.dir, 'printer', image, ['sh', '-c', script]);
    const printer = (await ok('create', podId.slice(0, 13), ctr, pod.file)).trim();
    expect(printer).toMatch(/^[0-9a-f]{64}$/);
    expect(await stateOf(printer)).toBe('CONTAINER_CREATED');
    expect((await ok('start', printer.slice(0, 13))).trim()).toBe(printer);
    await waitFor('printer to exit', async () => ((await stateOf(printer)) === 'CONTAINER_EXITED' ? true : undefined), 15_000);
    const logs = await crius('logs', printer);
    expect(logs.stdout).toBe('one\npartial\nthree\n');
    expect(logs.stderr).toBe('two\n');
    expect((await ok('logs', '--tail', '1', 'printer')).trim()).toBe('three');
    expect(await ok('logs', '-t', '--tail', '1', printer)).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:\d\d) three\n$/);
    expect(await ok('logs', '--since', '2030-01-01T00:00:00Z', printer)).toBe('');

    const sleeper = (await ok('create', podId, await writeCtrConfig(s.dir, 'sleeper', image, ['sleep', '3600']), pod.file)).trim();
    await ok('start', sleeper);
    const running = (await ok('ps')).trimEnd().split('\n');
    expect(running[0]).toMatch(/^CONTAINER\s+IMAGE\s+CREATED\s+STATE\s+NAME\s+ATTEMPT\s+POD ID\s+POD$/);
    expect(running.slice(1)).toHaveLength(1); // exited containers only with -a
    expect(running[1]).toMatch(new RegExp(`^${sleeper.slice(0, 13)}\\s+${image.replace(/[.]/g, '\\.')}\\s+.* ago\\s+Running\\s+sleeper\\s+0\\s+${podId.slice(0, 13)}\\s+web$`));
    expect((await ok('ps', '-a', '-q')).trim().split('\n').sort()).toEqual([printer, sleeper].sort());
    const all = await json('ps', '-a', '-o', 'json', '--pod', podId.slice(0, 13));
    expect(all.containers.map((c: { metadata: { name: string }; state: string }) => [c.metadata.name, c.state]).sort()).toEqual([
      ['printer', 'CONTAINER_EXITED'],
      ['sleeper', 'CONTAINER_RUNNING'],
    ]);
    expect((await ok('ps', '--name', '^sle', '-q')).trim()).toBe(sleeper);

    const exec = await crius('exec', sleeper.slice(0, 13), 'sh', '-c', 'echo hi; echo err >&2; exit 3');
    expect(exec).toMatchObject({ code: 3, stdout: 'hi\n', stderr: 'err\n' });
    expect((await ok('exec', 'sleeper', 'hostname')).trim()).toBe('web');
    // -t streams through the streaming server (test/cli/streaming.test.ts covers -i, attach, port-forward).
    const tty = await crius('exec', '-t', sleeper, 'sh', '-c', 'tty; exit 4');
    expect(tty).toMatchObject({ code: 4, stderr: '' });
    expect(tty.stdout).toMatch(/^\/dev\/pts\/\d+\r\n$/);

    const refused = await crius('rm', sleeper);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is running: stop it first/);
    expect((await ok('stop', sleeper)).trim()).toBe(sleeper);
    expect(await stateOf(sleeper)).toBe('CONTAINER_EXITED');
    expect((await ok('rm', sleeper, printer)).trim().split('\n')).toEqual([sleeper, printer]);
    expect((await ok('ps', '-a', '-q')).trim()).toBe('');

    expect((await ok('stopp', podId)).trim()).toBe(`Stopped sandbox ${podId}`);
    expect((await json('pods', '-o', 'json')).items[0].state).toBe('SANDBOX_NOTREADY');
    expect((await ok('rmp', podId)).trim()).toBe(`Removed sandbox ${podId}`);
    expect((await ok('pods', '-q')).trim()).toBe('');
  }, 180_000);

  it('stats shows the CPU of a busy container and the memory a container holds', async () => {
    const pod = await writePodConfig(s.dir, 'stats');
    const podId = (await ok('runp', pod.file)).trim();
    const burn = (await ok('create', podId, await writeCtrConfig(s.dir, 'burn', image, ['sh', '-c', 'while :; do :; done']), pod.file)).trim();
    // 32 MiB into the pod's /dev/shm (tmpfs): charged to this container's memory cgroup while it sleeps.
    const fill = 'dd if=/dev/zero of=/dev/shm/fill bs=1048576 count=32 && touch /dev/shm/filled && exec sleep 3600';
    const hold = (await ok('create', podId, await writeCtrConfig(s.dir, 'hold', image, ['sh', '-c', fill]), pod.file)).trim();
    await ok('start', burn);
    await ok('start', hold);
    await waitFor('the 32 MiB to be written', async () => ((await crius('exec', hold, 'cat', '/dev/shm/filled')).code === 0 ? true : undefined), 15_000);

    const out = (await ok('stats', '-s', '2')).trimEnd().split('\n');
    expect(out[0]).toMatch(/^CONTAINER\s+NAME\s+CPU %\s+MEM\s+DISK\s+INODES$/);
    const row = (name: string) => {
      const cols = out.find((l) => l.split(/\s+/)[1] === name)?.split(/\s+/);
      if (!cols) throw new Error(`no stats row for ${name}: ${out.join('\n')}`);
      return { id: cols[0], cpu: Number(cols[2]), mem: cols[3]!, disk: cols[4], inodes: Number(cols[5]) };
    };
    const mb = (size: string) => {
      const m = /^([\d.]+)(B|kB|MB|GB)$/.exec(size);
      if (!m) throw new Error(`not a size: ${size}`);
      return Number(m[1]) * { B: 1e-6, kB: 1e-3, MB: 1, GB: 1e3 }[m[2] as 'B' | 'kB' | 'MB' | 'GB'];
    };
    const b = row('burn');
    const h = row('hold');
    expect([b.id, h.id]).toEqual([burn.slice(0, 13), hold.slice(0, 13)]);
    // A busy loop over 2 s: well above idle even on a loaded node; the sleeper is idle.
    expect(b.cpu).toBeGreaterThan(10);
    expect(h.cpu).toBeLessThan(b.cpu);
    // 32 MiB is 33.6 MB; the shell and sleep add little.
    expect(mb(h.mem)).toBeGreaterThanOrEqual(33.5);
    expect(mb(h.mem)).toBeLessThan(42);
    expect(mb(b.mem)).toBeLessThan(mb(h.mem) - 30);
    expect(h.inodes).toBeGreaterThan(0);

    const asJson = await json('stats', '-o', 'json', hold);
    expect(asJson.stats.map((x: { attributes: { id: string } }) => x.attributes.id)).toEqual([hold]);
    expect(Number(asJson.stats[0].memory.workingSetBytes.value)).toBeGreaterThanOrEqual(32 * 1024 * 1024);
    await ok('rmp', '-f', podId);
  }, 90_000);

  it('follows a log with -f until killed', async () => {
    const pod = await writePodConfig(s.dir, 'ticker');
    const ctr = await writeCtrConfig(s.dir, 'ticker', image, ['sh', '-c', 'i=0; while true; do echo line-$i; i=$((i+1)); sleep 0.2; done']);
    const out = (await ok('run', '--print-pod', ctr, pod.file)).trim().split('\n');
    const [podId, ctrId] = out as [string, string];
    const follower = new CliProcess(['--config', s.configPath, 'logs', '-f', ctrId]);
    try {
      const lines = await follower.waitForLines(8);
      expect(lines[0]).toBe('line-0');
      expect(lines).toEqual(lines.map((_, i) => `line-${i}`));
    } finally {
      await follower.stop('SIGKILL');
    }
    // -f ends by itself when the container stops.
    const tail = new CliProcess(['--config', s.configPath, 'logs', '-f', '--tail', '2', ctrId]);
    expect(await tail.waitForLines(2)).toEqual([expect.stringMatching(/^line-\d+$/), expect.stringMatching(/^line-\d+$/)]);
    await ok('stop', ctrId);
    await waitFor('logs -f to end', async () => (tail.child.exitCode === 0 ? true : undefined), 10_000);
    await ok('rmp', '-f', podId);
  }, 90_000);

  it('streams container events until Ctrl-C', async () => {
    const table = new CliProcess(['--config', s.configPath, 'events']);
    const lines = new CliProcess(['--config', s.configPath, 'events', '-o', 'json']);
    try {
      expect((await table.waitForLines(1))[0]).toMatch(/^TIME\s+EVENT\s+CONTAINER\s+NAME\s+POD$/);
      // Each says on stderr when its stream is live: from then on it misses no event.
      await table.waitForStderr('watching container events');
      await lines.waitForStderr('watching container events');
      const pod = await writePodConfig(s.dir, 'evented');
      const podId = (await ok('runp', pod.file)).trim();
      const [created] = (await lines.waitForLines(1)).map((l) => JSON.parse(l));
      expect(created).toMatchObject({ containerId: podId, containerEventType: 'CONTAINER_CREATED_EVENT', podSandboxStatus: { state: 'SANDBOX_READY' } });
      expect((await table.waitForLines(2))[1]).toMatch(new RegExp(`^\\d{4}-[\\d-]+T[\\d:.]+Z\\s+created\\s+${podId.slice(0, 13)}\\s+cli/evented$`));
      await ok('rmp', '-f', podId);
      expect(await table.stop('SIGINT')).toBe(0);
    } finally {
      await table.stop();
      await lines.stop();
    }
  }, 60_000);

  it('run pulls a removed image again and starts the container', async () => {
    await ok('rmi', image);
    expect(await ok('images', '-q')).toBe('');
    const pod = await writePodConfig(s.dir, 'oneshot');
    const ctr = await writeCtrConfig(s.dir, 'oneshot', image, ['sleep', '60']);
    const ctrId = (await ok('run', ctr, pod.file)).trim();
    expect(await stateOf(ctrId)).toBe('CONTAINER_RUNNING');
    expect((await ok('images')).trimEnd().split('\n')).toHaveLength(2);
    await ok('rmp', '-f', 'oneshot');
    expect((await ok('pods', '-q')).trim()).toBe('');
  }, 120_000);

  it('doctor reports the node and the running services', async () => {
    const r = await crius('doctor', '-o', 'json');
    const { findings } = JSON.parse(r.stdout) as { findings: { name: string; level: string; detail: string }[] };
    const byName = new Map(findings.map((f) => [f.name, f]));
    expect(byName.get('runtime runc (default)')).toMatchObject({ level: 'ok', detail: expect.stringMatching(/^runc version /) });
    expect(byName.get('overlayfs')?.level).toBe('ok');
    expect(byName.get('service runtime-svc')?.level).toBe('ok');
    expect(byName.get('CRI socket')?.level).toBe('ok');
    expect(r.code).toBe(findings.some((f) => f.level === 'fail') ? 1 : 0);
  });
});

describe('crius CLI errors and other endpoints', () => {
  it('names the bad field of a malformed pod file and runs nothing', async () => {
    const before = await ok('pods', '-q');
    const bad = path.join(s.dir, 'bad.pod.json');
    await writeFile(bad, JSON.stringify({ metadata: { name: 'x', nmae: 'y' }, linux: { cgroup_parent: 5 } }));
    const r = await crius('runp', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `crius: ${bad}: invalid fields:\n  metadata.nmae: unknown field (did you mean "name"?)\n  linux.cgroup_parent: expected a string, got number 5\n`,
    );
    await writeFile(bad, '{"metadata": {"name": "x",}}');
    expect((await crius('runp', bad)).stderr).toMatch(new RegExp(`^crius: ${bad}: not valid JSON: `));
    expect(await ok('pods', '-q')).toBe(before);
  });

  it('says in one line that a socket cannot be reached, exit code 1', async () => {
    const missing = path.join(s.dir, 'nothing-here.sock');
    const r = await runCli(['--endpoint', missing, 'ps']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`crius: cannot reach the CRI endpoint ${missing}: no socket at that path. Is crius running (\`crius up\`)? Use --endpoint for another runtime's socket.\n`);
  });

  it('talks to another CRI endpoint with --endpoint', async () => {
    const other = await startStack();
    try {
      const pod = await writePodConfig(s.dir, 'here');
      const podId = (await ok('runp', pod.file)).trim();
      const elsewhere = await crius('--endpoint', `unix://${other.config.api.listen}`, 'pods', '-q');
      expect(elsewhere).toMatchObject({ code: 0, stdout: '' });
      expect((await crius('--endpoint', other.config.api.listen, 'version')).stdout).toMatch(/^crius /);
      const otherPod = await writePodConfig(other.dir, 'there');
      const otherId = (await runCli(['--endpoint', other.config.api.listen, 'runp', otherPod.file])).stdout.trim();
      expect((await ok('pods', '-q')).trim()).toBe(podId);
      expect((await runCli(['--endpoint', other.config.api.listen, 'pods', '-q'])).stdout.trim()).toBe(otherId);
      expect((await runCli(['--endpoint', other.config.api.listen, 'rmp', '-f', otherId])).code).toBe(0);
      await ok('rmp', '-f', podId);
    } finally {
      await other.stop();
    }
  }, 120_000);
});
