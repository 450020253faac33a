// The container state machine, written down once:
//
//   created ──start──► running ──exit (monitor-svc / reconcile)──► exited
//      │                                                           ▲
//      └───────────── start failed / killed before start ──────────┘
//
//   unknown: the record exists but the OCI runtime lost the container
//            (e.g. after a reboot); only stop and remove are allowed.
//   remove:  allowed in every state; a running container is killed first.
import { FailedPreconditionError } from '@crius/common';
import type { ContainerRecord, ContainerState } from './records.js';

export function canStart(c: Pick<ContainerRecord, 'id' | 'state'>): void {
  if (c.state !== 'created') {
    throw new FailedPreconditionError(`container ${c.id} is ${c.state}, only a created container can be started`);
  }
}

export function canExec(c: Pick<ContainerRecord, 'id' | 'state'>): void {
  if (c.state !== 'running') throw new FailedPreconditionError(`container ${c.id} is ${c.state}, not running`);
}

export function canUpdateResources(c: Pick<ContainerRecord, 'id' | 'state'>): void {
  if (c.state !== 'created' && c.state !== 'running') {
    throw new FailedPreconditionError(`container ${c.id} is ${c.state}: resources can only be updated while created or running`);
  }
}

/** Whether stopping has anything to do (stop of an exited container is a no-op). */
export function needsStop(state: ContainerState): boolean {
  return state === 'running' || state === 'created' || state === 'unknown';
}

/** CRI ContainerState enum values. */
export const CRI_CONTAINER_STATE: Record<ContainerState, number> = { created: 0, running: 1, exited: 2, unknown: 3 };
export const STATE_FROM_CRI: Record<number, ContainerState> = { 0: 'created', 1: 'running', 2: 'exited', 3: 'unknown' };
