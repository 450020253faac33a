// @crius/common: what every crius process shares — errors, config, logging,
// the bus, and the generated protobuf types (import those from
// '@crius/common/cri' and '@crius/common/proto/health').
export * from './errors.js';
export * from './log.js';
export * from './config/index.js';
export * from './bus/index.js';
export * from './service/run.js';
export * from './service/privileges.js';
export * from './fs/atomic.js';
export * from './fs/batched-writer.js';
export * from './keyed-lock.js';
export * from './shared-lock.js';
export * from './concurrency.js';
export * from './os/cgroupfs.js';
