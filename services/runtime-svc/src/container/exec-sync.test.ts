// runCaptured with real host processes: the per-stream cap (api.proto:
// 16 MiB per stream; here a small one), the exit code, and the timeout that
// calls killTree and reports 'timeout'. The container side is in
// test/e2e/issue-15-exec-sync-timeout.test.ts.
import { describe, expect, it } from 'vitest';
import { runCaptured } from './exec-sync.js';

const noKill = async () => undefined;

describe('runCaptured', () => {
  it('keeps at most limit bytes of each stream and still reads the rest, so the command finishes', async () => {
    const r = await runCaptured('/bin/sh', ['-c', 'head -c 300000 /dev/zero; head -c 5 /dev/zero | tr "\\0" e >&2; exit 4'], { timeoutMs: 0, limit: 1000, killTree: noKill });
    expect(r.stdout.length).toBe(1000);
    expect(r.stderr.toString()).toBe('eeeee');
    expect(r.exitCode).toBe(4);
    expect(r.ended).toBe('exited');
  });

  it('calls killTree at the timeout and reports it', async () => {
    let killed = 0;
    const started = Date.now();
    const r = await runCaptured('/bin/sh', ['-c', 'echo $$; exec sleep 100'], {
      timeoutMs: 300,
      limit: 100,
      killTree: async () => {
        killed++;
      },
    });
    // killTree did nothing here: the runtime's own process is SIGKILLed after its grace.
    expect(killed).toBe(1);
    expect(r.ended).toBe('timeout');
    expect(r.exitCode).toBe(137);
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it('stops when the caller aborts', async () => {
    const ac = new AbortController();
    const p = runCaptured('/bin/sh', ['-c', 'exec sleep 100'], { timeoutMs: 0, signal: ac.signal, limit: 10, killTree: noKill });
    ac.abort();
    expect((await p).ended).toBe('aborted');
  });
});
