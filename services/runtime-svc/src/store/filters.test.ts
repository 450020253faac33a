import { describe, expect, it } from 'vitest';
import { containerMatches, sandboxMatches } from './filters.js';

const c = { id: 'abcdef', sandboxId: '123456', state: 1, labels: { app: 'web', tier: 'front' } };

describe('container filters', () => {
  it('matches everything without a filter', () => expect(containerMatches(c, undefined)).toBe(true));
  it('matches ids and sandbox ids by prefix', () => {
    expect(containerMatches(c, { id: 'abc', podSandboxId: '', state: undefined, labelSelector: {} })).toBe(true);
    expect(containerMatches(c, { id: 'abd', podSandboxId: '', state: undefined, labelSelector: {} })).toBe(false);
    expect(containerMatches(c, { id: '', podSandboxId: '12', state: undefined, labelSelector: {} })).toBe(true);
    expect(containerMatches(c, { id: '', podSandboxId: '13', state: undefined, labelSelector: {} })).toBe(false);
  });
  it('matches state exactly, including CREATED (0) when the state filter is set', () => {
    expect(containerMatches(c, { id: '', podSandboxId: '', state: { state: 1 }, labelSelector: {} })).toBe(true);
    expect(containerMatches(c, { id: '', podSandboxId: '', state: { state: 0 }, labelSelector: {} })).toBe(false);
  });
  it('ANDs label selectors', () => {
    expect(containerMatches(c, { id: '', podSandboxId: '', state: undefined, labelSelector: { app: 'web' } })).toBe(true);
    expect(containerMatches(c, { id: '', podSandboxId: '', state: undefined, labelSelector: { app: 'web', tier: 'back' } })).toBe(false);
  });
});

describe('sandbox filters', () => {
  const s = { id: 'ffee', state: 0, labels: { a: '1' } };
  it('matches id prefix, state and labels', () => {
    expect(sandboxMatches(s, { id: 'ff', state: { state: 0 }, labelSelector: { a: '1' } })).toBe(true);
    expect(sandboxMatches(s, { id: '', state: { state: 1 }, labelSelector: {} })).toBe(false);
    expect(sandboxMatches(s, { id: '', state: undefined, labelSelector: { a: '2' } })).toBe(false);
  });
});
