// GetContainerEvents: relays container events from the bus
// (crius.v1.events.container.>) to a kubelet stream until it goes away. The
// payloads are already ContainerEventResponse bytes and pass unchanged.
import { EVENTS_ROOT, type BusClient } from '@crius/common';

export async function* containerEvents(bus: BusClient, signal: AbortSignal): AsyncGenerator<Buffer> {
  const sub = bus.nc.subscribe(`${EVENTS_ROOT}.container.>`);
  const stop = () => sub.unsubscribe();
  signal.addEventListener('abort', stop, { once: true });
  try {
    for await (const msg of sub) yield Buffer.from(msg.data);
  } finally {
    signal.removeEventListener('abort', stop);
    sub.unsubscribe();
  }
}
