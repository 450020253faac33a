import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@crius/common';
import { Signal } from '@crius/common/cri';
import { effectiveStopSignal, kernelSignal, parseStopSignal } from './signals.js';

// signal(7), Linux on x86/arm: the kernel number of every CRI enum value.
const LINUX: [Signal, number][] = [
  [Signal.SIGABRT, 6], [Signal.SIGALRM, 14], [Signal.SIGBUS, 7], [Signal.SIGCHLD, 17], [Signal.SIGCLD, 17],
  [Signal.SIGCONT, 18], [Signal.SIGFPE, 8], [Signal.SIGHUP, 1], [Signal.SIGILL, 4], [Signal.SIGINT, 2],
  [Signal.SIGIO, 29], [Signal.SIGIOT, 6], [Signal.SIGKILL, 9], [Signal.SIGPIPE, 13], [Signal.SIGPOLL, 29],
  [Signal.SIGPROF, 27], [Signal.SIGPWR, 30], [Signal.SIGQUIT, 3], [Signal.SIGSEGV, 11], [Signal.SIGSTKFLT, 16],
  [Signal.SIGSTOP, 19], [Signal.SIGSYS, 31], [Signal.SIGTERM, 15], [Signal.SIGTRAP, 5], [Signal.SIGTSTP, 20],
  [Signal.SIGTTIN, 21], [Signal.SIGTTOU, 22], [Signal.SIGURG, 23], [Signal.SIGUSR1, 10], [Signal.SIGUSR2, 12],
  [Signal.SIGVTALRM, 26], [Signal.SIGWINCH, 28], [Signal.SIGXCPU, 24], [Signal.SIGXFSZ, 25],
  [Signal.SIGRTMIN, 34], [Signal.SIGRTMINPLUS1, 35], [Signal.SIGRTMINPLUS2, 36], [Signal.SIGRTMINPLUS3, 37],
  [Signal.SIGRTMINPLUS4, 38], [Signal.SIGRTMINPLUS5, 39], [Signal.SIGRTMINPLUS6, 40], [Signal.SIGRTMINPLUS7, 41],
  [Signal.SIGRTMINPLUS8, 42], [Signal.SIGRTMINPLUS9, 43], [Signal.SIGRTMINPLUS10, 44], [Signal.SIGRTMINPLUS11, 45],
  [Signal.SIGRTMINPLUS12, 46], [Signal.SIGRTMINPLUS13, 47], [Signal.SIGRTMINPLUS14, 48], [Signal.SIGRTMINPLUS15, 49],
  [Signal.SIGRTMAXMINUS14, 50], [Signal.SIGRTMAXMINUS13, 51], [Signal.SIGRTMAXMINUS12, 52], [Signal.SIGRTMAXMINUS11, 53],
  [Signal.SIGRTMAXMINUS10, 54], [Signal.SIGRTMAXMINUS9, 55], [Signal.SIGRTMAXMINUS8, 56], [Signal.SIGRTMAXMINUS7, 57],
  [Signal.SIGRTMAXMINUS6, 58], [Signal.SIGRTMAXMINUS5, 59], [Signal.SIGRTMAXMINUS4, 60], [Signal.SIGRTMAXMINUS3, 61],
  [Signal.SIGRTMAXMINUS2, 62], [Signal.SIGRTMAXMINUS1, 63], [Signal.SIGRTMAX, 64],
];

describe('kernelSignal', () => {
  it('covers every CRI Signal value but RUNTIME_DEFAULT', () => {
    const all = Object.values(Signal).filter((v): v is Signal => typeof v === 'number' && v > 0);
    expect(all).toHaveLength(65);
    expect(LINUX.map(([s]) => s).sort((a, b) => a - b)).toEqual(all.sort((a, b) => a - b));
  });

  it.each(LINUX.map(([s, n]) => [Signal[s], s, n] as const))('%s (enum %i) is kernel signal %i', (_name, sig, n) => {
    expect(kernelSignal(sig)).toBe(n);
  });

  it('refuses RUNTIME_DEFAULT and values outside the enum', () => {
    expect(() => kernelSignal(Signal.RUNTIME_DEFAULT)).toThrow(InvalidArgumentError);
    expect(() => kernelSignal(66 as Signal)).toThrow(InvalidArgumentError);
    expect(() => kernelSignal(Signal.UNRECOGNIZED)).toThrow(InvalidArgumentError);
  });
});

describe('parseStopSignal (image STOPSIGNAL)', () => {
  it.each([
    ['SIGQUIT', Signal.SIGQUIT],
    ['QUIT', Signal.SIGQUIT],
    ['sigquit', Signal.SIGQUIT],
    ['3', Signal.SIGQUIT],
    ['SIGUSR1', Signal.SIGUSR1],
    ['10', Signal.SIGUSR1],
    ['SIGWINCH', Signal.SIGWINCH],
    ['15', Signal.SIGTERM],
    ['9', Signal.SIGKILL],
    ['6', Signal.SIGABRT],
    ['SIGIOT', Signal.SIGABRT],
    ['17', Signal.SIGCHLD],
    ['SIGPOLL', Signal.SIGIO],
    ['SIGRTMIN', Signal.SIGRTMIN],
    ['SIGRTMIN+3', Signal.SIGRTMINPLUS3],
    ['RTMIN+15', Signal.SIGRTMINPLUS15],
    ['SIGRTMAX-1', Signal.SIGRTMAXMINUS1],
    ['SIGRTMAX', Signal.SIGRTMAX],
    ['37', Signal.SIGRTMINPLUS3],
    ['64', Signal.SIGRTMAX],
    [' SIGHUP ', Signal.SIGHUP],
  ])('%j is %s', (text, sig) => {
    expect(parseStopSignal(text)).toBe(sig);
  });

  it.each(['', 'SIG', 'SIGFOO', 'TERMINATE', '0', '32', '33', '65', '-15', '1.5', 'SIGRTMIN-1', 'SIGRTMAX+1', 'SIGRTMIN+16', 'SIGRTMAX-15', 'SIGTERM;'])(
    '%j is InvalidArgument',
    (text) => {
      expect(() => parseStopSignal(text)).toThrow(InvalidArgumentError);
      expect(() => parseStopSignal(text)).toThrow(/STOPSIGNAL/);
    },
  );
});

describe('effectiveStopSignal', () => {
  it('takes the container stop_signal over the image STOPSIGNAL', () => {
    expect(effectiveStopSignal(Signal.SIGINT, 'SIGUSR1')).toBe(Signal.SIGINT);
  });

  it('takes the image STOPSIGNAL when stop_signal is RUNTIME_DEFAULT', () => {
    expect(effectiveStopSignal(Signal.RUNTIME_DEFAULT, 'SIGUSR1')).toBe(Signal.SIGUSR1);
    expect(effectiveStopSignal(Signal.RUNTIME_DEFAULT, '3')).toBe(Signal.SIGQUIT);
  });

  it('falls back to SIGTERM', () => {
    expect(effectiveStopSignal(Signal.RUNTIME_DEFAULT, '')).toBe(Signal.SIGTERM);
    expect(effectiveStopSignal(Signal.RUNTIME_DEFAULT, undefined)).toBe(Signal.SIGTERM);
  });

  it('refuses a bad STOPSIGNAL even though it would not be used until stop', () => {
    expect(() => effectiveStopSignal(Signal.RUNTIME_DEFAULT, 'SIGNOPE')).toThrow(InvalidArgumentError);
  });

  it('refuses an unknown stop_signal value', () => {
    expect(() => effectiveStopSignal(99 as Signal, '')).toThrow(InvalidArgumentError);
  });
});
