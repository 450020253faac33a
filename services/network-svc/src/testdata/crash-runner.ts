// Test-only: a stand-in network-svc process. The crash test bundles this,
// runs it, and SIGKILLs it while a CNI ADD is in flight.
import { NetworkService, type NetworkServiceOptions, type SetUpPodRequest } from '../network-service.js';

const { service, pod } = JSON.parse(process.argv[2] ?? '{}') as { service: NetworkServiceOptions; pod: SetUpPodRequest };
const svc = new NetworkService(service);
const res = await svc.setUpPod(pod);
process.stdout.write(`${JSON.stringify(res)}\n`);
