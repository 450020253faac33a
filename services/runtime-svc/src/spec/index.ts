// runtime-svc/spec: pure OCI runtime config generation for containers and the
// sandbox pause process. The rest of runtime-svc imports from here only.
export * from './oci-types.js';
export * from './oci-json.js';
export * from './image-config.js';
export { resolveUser, type UserRequest, type UserDb } from './user.js';
export * from './capabilities.js';
export * from './process.js';
export * from './mounts.js';
export * from './resources.js';
export * from './security.js';
export * from './seccomp.js';
export { defaultSeccompProfile, CLONE_NAMESPACE_FLAGS } from './seccomp-default.js';
export * from './devices.js';
export * from './generate.js';
export * from './signals.js';
export * from './pause-spec.js';
export * from './apparmor.js';
export * from './apparmor-profile.js';
export * from './cdi.js';
export * from './cdi-edits.js';
