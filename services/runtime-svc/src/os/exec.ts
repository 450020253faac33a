// Runs a helper program (mount, umount, unshare, runc) and turns a failure
// into an error that names the command and carries its stderr.
import { execFile } from 'node:child_process';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const text = String(stderr).trim() || err.message;
        reject(Object.assign(new Error(`${cmd} ${args.join(' ')}: ${text}`), { stderr: String(stderr), code: (err as { code?: unknown }).code }));
      } else resolve({ stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
