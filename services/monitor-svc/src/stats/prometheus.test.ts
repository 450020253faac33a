// prometheus: the text exposition of crius's runtime metrics.
import { describe, expect, it } from 'vitest';
import { createRuntimeMetrics } from './prometheus.js';

/** Sample lines only (no # HELP/# TYPE), as a name{labels} → value map. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe('createRuntimeMetrics', () => {
  it('starts with every container state at 0 and all counters at 0, with HELP and TYPE', async () => {
    const m = createRuntimeMetrics();
    const text = await m.text();
    expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(text).toContain('# TYPE crius_containers gauge');
    expect(text).toContain('# TYPE crius_container_oom_events_total counter');
    expect(text).toContain('# HELP crius_image_pull_bytes_total Bytes downloaded');
    const s = samples(text);
    for (const st of ['created', 'running', 'exited', 'unknown']) expect(s.get(`crius_containers{state="${st}"}`)).toBe(0);
    expect(s.get('crius_container_exits_total')).toBe(0);
    expect(s.get('crius_image_pulls_total')).toBe(0);
    expect(text).not.toContain('process_cpu');
  });

  it('reflects events: counts by state, OOMs, exits, pulls and bytes, service up', async () => {
    const m = createRuntimeMetrics();
    m.setContainerCounts({ running: 3, exited: 1 });
    m.setContainerCounts({ running: 2, created: 1 });
    m.containerOom();
    m.containerExited();
    m.containerExited(2);
    m.imagePulled(1000);
    m.imagePulled(24);
    m.imagePullFailed();
    m.setServiceUp('image', true);
    m.setServiceUp('runtime', false);
    const s = samples(await m.text());
    expect(s.get('crius_containers{state="running"}')).toBe(2);
    expect(s.get('crius_containers{state="created"}')).toBe(1);
    // A state left out of the latest counts drops back to 0.
    expect(s.get('crius_containers{state="exited"}')).toBe(0);
    expect(s.get('crius_container_oom_events_total')).toBe(1);
    expect(s.get('crius_container_exits_total')).toBe(3);
    expect(s.get('crius_image_pulls_total')).toBe(2);
    expect(s.get('crius_image_pull_bytes_total')).toBe(1024);
    expect(s.get('crius_image_pull_failures_total')).toBe(1);
    expect(s.get('crius_service_up{service="image"}')).toBe(1);
    expect(s.get('crius_service_up{service="runtime"}')).toBe(0);
  });

  it('keeps instances apart and can add process metrics', async () => {
    const a = createRuntimeMetrics();
    const b = createRuntimeMetrics({ processMetrics: true });
    a.containerOom(5);
    expect(samples(await b.text()).get('crius_container_oom_events_total')).toBe(0);
    expect(await b.text()).toContain('process_cpu_user_seconds_total');
  });
});
