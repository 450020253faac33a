export * from './schema.js';
export * from './load.js';
export * from './docs.js';
export * from './node-defaults.js';
