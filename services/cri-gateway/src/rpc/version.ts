// Version: answered by the gateway itself, as the CRI runtime identity.
import { VersionResponse } from '@crius/common/cri';

export const RUNTIME_NAME = 'crius';
export const RUNTIME_API_VERSION = 'v1';
/** The CRI protocol version string kubelet logs ("0.1.0" is what CRI runtimes report). */
export const KUBE_API_VERSION = '0.1.0';

export function version(runtimeVersion: string): VersionResponse {
  return {
    version: KUBE_API_VERSION,
    runtimeName: RUNTIME_NAME,
    runtimeVersion,
    runtimeApiVersion: RUNTIME_API_VERSION,
  };
}
