// Stop signals: the CRI Signal enum, the image's STOPSIGNAL text and the
// kernel numbers the OCI runtime's kill takes. The enum's numbers are not
// kernel numbers (enum SIGTERM = 23, kernel 15). Owned by runtime-svc/spec;
// pure. Numbers are Linux's generic ones (x86, arm, arm64, riscv, ppc, s390).
import { InvalidArgumentError } from '@crius/common';
import { Signal } from '@crius/common/cri';

/** Linux numbers of the classic signals, by name without "SIG". */
const CLASSIC: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11,
  USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CLD: 17, CONT: 18, STOP: 19, TSTP: 20,
  TTIN: 21, TTOU: 22, URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29,
  PWR: 30, SYS: 31,
};

/** The kernel's first and last realtime signal (glibc keeps 32 and 33 for itself). */
export const SIGRTMIN = 34;
export const SIGRTMAX = 64;
const RT_SPAN = 15;

/** The kernel number of a CRI Signal enum value other than RUNTIME_DEFAULT. */
export function kernelSignal(sig: Signal): number {
  const name = Signal[sig];
  if (sig === Signal.RUNTIME_DEFAULT || typeof name !== 'string' || !name.startsWith('SIG')) {
    throw new InvalidArgumentError(`stop_signal ${sig} is not a signal`);
  }
  const n = numberOf(name.slice(3));
  if (n === undefined) throw new InvalidArgumentError(`stop_signal ${name} has no Linux signal number`);
  return n;
}

/** "TERM", "RTMIN", "RTMIN+3", "RTMAX-2" and the enum's "RTMINPLUS3" / "RTMAXMINUS2" → kernel number. */
function numberOf(bare: string): number | undefined {
  if (bare in CLASSIC) return CLASSIC[bare];
  if (bare === 'RTMIN') return SIGRTMIN;
  if (bare === 'RTMAX') return SIGRTMAX;
  const m = /^RT(MIN|MAX)(\+|-|PLUS|MINUS)(\d{1,2})$/.exec(bare);
  if (!m) return undefined;
  const up = m[2] === '+' || m[2] === 'PLUS';
  const off = Number(m[3]);
  // RTMIN only counts up and RTMAX only down, each as far as the CRI enum names them.
  if (m[1] === 'MIN' && up && off >= 1 && off <= RT_SPAN) return SIGRTMIN + off;
  if (m[1] === 'MAX' && !up && off >= 1 && off < RT_SPAN) return SIGRTMAX - off;
  return undefined;
}

/** Kernel number → enum value (aliases get their usual name: 6 SIGABRT, 17 SIGCHLD, 29 SIGIO). */
const ENUM_BY_KERNEL = new Map<number, Signal>();
for (const [name, value] of Object.entries(Signal)) {
  if (typeof value !== 'number' || value <= 0) continue;
  const n = numberOf(name.slice(3));
  if (n !== undefined && !ENUM_BY_KERNEL.has(n)) ENUM_BY_KERNEL.set(n, value);
}

/**
 * An image config's STOPSIGNAL as Docker reads it: a name ("SIGQUIT",
 * "quit", "SIGRTMIN+3") or a kernel number ("3"). Anything else, and a
 * number the CRI enum cannot name, is InvalidArgument.
 */
export function parseStopSignal(text: string): Signal {
  const raw = text.trim();
  let n: number | undefined;
  if (/^\d+$/.test(raw)) n = Number(raw);
  else {
    const upper = raw.toUpperCase();
    n = numberOf(upper.startsWith('SIG') ? upper.slice(3) : upper);
  }
  const sig = n === undefined ? undefined : ENUM_BY_KERNEL.get(n);
  if (sig === undefined) throw new InvalidArgumentError(`image STOPSIGNAL "${text}" is not a Linux signal name or number`);
  return sig;
}

/**
 * The signal a graceful stop sends, as the CRI enum: the container's
 * stop_signal unless RUNTIME_DEFAULT, else the image's STOPSIGNAL, else
 * SIGTERM (KEP-4960's order).
 */
export function effectiveStopSignal(configured: Signal, imageStopSignal: string | undefined): Signal {
  if (configured !== Signal.RUNTIME_DEFAULT) {
    kernelSignal(configured); // refuses values outside the enum
    return configured;
  }
  if (imageStopSignal && imageStopSignal.trim() !== '') return parseStopSignal(imageStopSignal);
  return Signal.SIGTERM;
}
