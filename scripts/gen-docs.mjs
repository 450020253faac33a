// Writes docs/configuration.md from the config schema (build first).
import { writeFileSync } from 'node:fs';
import { configReference } from '@crius/common';

writeFileSync(new URL('../docs/configuration.md', import.meta.url), configReference());
console.log('wrote docs/configuration.md');
