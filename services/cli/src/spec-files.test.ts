import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContainerConfig, NamespaceMode, PodSandboxConfig, Protocol } from '@crius/common/cri';
import { camelCase, loadSpecFile, parseSpecText, snakeCase, specProblems, specToMessage } from './spec-files.js';

const crictlPod = {
  metadata: { name: 'nginx-sandbox', namespace: 'default', attempt: 1, uid: 'hdishd83djaidwnduwk28bcsb' },
  log_directory: '/tmp/logs',
  dns_config: { servers: ['10.96.0.10'] },
  port_mappings: [{ protocol: 'UDP', container_port: 53, host_port: '5353' }],
  labels: { some_label: 'v', 'app.kubernetes.io/name': 'x' },
  linux: {
    cgroup_parent: '/crius-test',
    sysctls: { 'net.ipv4.ip_forward': '1' },
    security_context: { namespace_options: { network: 2, pid: 'CONTAINER' }, run_as_user: { value: 0 }, supplemental_groups: [1, '2'] },
  },
};

describe('spec files to CRI messages', () => {
  it('reads crictl snake_case and leaves map keys alone', () => {
    const pod = specToMessage(PodSandboxConfig, crictlPod, 'pod.json');
    expect(pod.logDirectory).toBe('/tmp/logs');
    expect(pod.metadata).toMatchObject({ name: 'nginx-sandbox', attempt: 1, uid: 'hdishd83djaidwnduwk28bcsb' });
    expect(pod.portMappings[0]).toMatchObject({ protocol: Protocol.UDP, containerPort: 53, hostPort: 5353 });
    expect(pod.labels).toEqual({ some_label: 'v', 'app.kubernetes.io/name': 'x' });
    expect(pod.linux?.cgroupParent).toBe('/crius-test');
    expect(pod.linux?.sysctls).toEqual({ 'net.ipv4.ip_forward': '1' });
    const sc = pod.linux!.securityContext!;
    expect(sc.namespaceOptions).toMatchObject({ network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER });
    expect(sc.runAsUser?.value).toBe(0n);
    expect(sc.supplementalGroups).toEqual([1n, 2n]);
  });

  it('reads camelCase and odd json names (CDIDevices)', () => {
    const c = specToMessage(ContainerConfig, { metadata: { name: 'c' }, image: { image: 'busybox' }, logPath: 'c.log', CDI_devices: [{ name: 'x' }] }, 'c.yaml');
    expect(c).toMatchObject({ logPath: 'c.log', image: { image: 'busybox' }, CDIDevices: [{ name: 'x' }] });
  });

  it('normalizes mixed-case keys that ts-proto fromJSON alone would drop', () => {
    expect(specToMessage(PodSandboxConfig, { log_Directory: '/x' }, 'p').logDirectory).toBe('/x');
  });

  it('names every bad field with its path', () => {
    const problems = specProblems(PodSandboxConfig, {
      metadata: { name: 7 },
      log_directroy: '/tmp',
      port_mappings: [{ protocol: 'SCTPX' }, { container_port: 'eighty' }],
      linux: { security_context: { run_as_user: 5, supplemental_groups: 'x' } },
      labels: { a: { b: 1 } },
      logDirectory: '/a',
      log_directory: '/b',
    });
    expect(problems).toEqual([
      'metadata.name: expected a string, got number 7',
      'log_directroy: unknown field (did you mean "log_directory"?)',
      'port_mappings[0].protocol: unknown value "SCTPX" (expected an enum name or number)',
      'port_mappings[1].container_port: expected a number, got string "eighty"',
      'linux.security_context.run_as_user: expected an object, got number 5',
      'linux.security_context.supplemental_groups: expected a list, got string "x"',
      'labels.a: expected a string, got an object',
      'log_directory: the same field as "logDirectory", given twice',
    ]);
  });

  it('throws one error naming the file', () => {
    expect(() => specToMessage(PodSandboxConfig, { metadata: { nmae: 'x' } }, 'pod.json')).toThrow(
      /^pod\.json: invalid field:\n {2}metadata\.nmae: unknown field \(did you mean "name"\?\)$/,
    );
    expect(() => specToMessage(PodSandboxConfig, [1], 'pod.json')).toThrow(/the file: expected an object, got a list/);
  });

  it('reports syntax errors with the file name', () => {
    expect(() => parseSpecText('{"metadata": {', 'pod.json')).toThrow(/^pod\.json: not valid JSON: /);
    expect(() => parseSpecText('a: [1,\nb', 'pod.yaml')).toThrow(/^pod\.yaml: not valid YAML: /);
    expect(() => parseSpecText('  \n', 'pod.yaml')).toThrow(/pod\.yaml: the file is empty/);
  });

  it('converts key styles both ways', () => {
    expect(camelCase('pod_sandbox_id')).toBe('podSandboxId');
    expect(snakeCase('podSandboxId')).toBe('pod_sandbox_id');
  });
});

describe('loadSpecFile', () => {
  let dir = '';
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('loads YAML and JSON files', async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'crius-spec-'));
    await writeFile(path.join(dir, 'pod.yaml'), 'metadata:\n  name: p\n  namespace: n\n  uid: u\nlog_directory: /l\n');
    await writeFile(path.join(dir, 'pod.json'), JSON.stringify({ metadata: { name: 'p' }, hostname: 'h' }));
    expect((await loadSpecFile(path.join(dir, 'pod.yaml'), PodSandboxConfig)).metadata?.uid).toBe('u');
    expect((await loadSpecFile(path.join(dir, 'pod.json'), PodSandboxConfig)).hostname).toBe('h');
    await expect(loadSpecFile(path.join(dir, 'missing.json'), PodSandboxConfig)).rejects.toThrow(/missing\.json: cannot read: ENOENT/);
  });
});
