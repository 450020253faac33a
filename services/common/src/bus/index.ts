export * from './subjects.js';
export * from './headers.js';
export * from './codec.js';
export * from './client.js';
export * from './server.js';
export * from './permissions.js';
export * from './connect.js';
export * from './routes.js';
