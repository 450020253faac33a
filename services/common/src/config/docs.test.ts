import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configReference } from './docs.js';

describe('configuration reference', () => {
  it('docs/configuration.md is what the schema generates (run `npm run docs`)', () => {
    const committed = readFileSync(new URL('../../../../docs/configuration.md', import.meta.url), 'utf8');
    expect(committed).toBe(configReference());
  });

  it('documents every section and key', () => {
    const text = configReference();
    expect(text).toContain('## [runtime]');
    expect(text).toContain('### [runtime.handlers.<name>]');
    expect(text).toContain('| `listen` | string | `"/run/crius/crius.sock"` |');
  });
});
