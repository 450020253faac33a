// Process identity from /proc: a PID is only ours to signal while its start
// time (field 22 of /proc/<pid>/stat) is the one we recorded.
import { readFile } from 'node:fs/promises';

export async function pidStartTime(pid: number): Promise<string> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parens: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? '';
  } catch {
    return '';
  }
}

export async function sameProcess(pid: number, startTime: string): Promise<boolean> {
  if (!pid || !startTime) return false;
  return (await pidStartTime(pid)) === startTime;
}
