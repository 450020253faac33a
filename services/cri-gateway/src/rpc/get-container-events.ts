// GetContainerEvents: relays container events from the bus
// (crius.v1.events.container.>) to a kubelet stream until it goes away. The
// payloads are already ContainerEventResponse bytes and pass unchanged. The
// response headers go out once nats-server has the subscription: from then on
// no event is missed, so a client (or a test) knows when to start acting.
import { EVENTS_ROOT, type BusClient } from '@crius/common';

export async function* containerEvents(bus: BusClient, signal: AbortSignal, live: () => void): AsyncGenerator<Buffer> {
  const sub = bus.nc.subscribe(`${EVENTS_ROOT}.container.>`);
  const stop = () => sub.unsubscribe();
  signal.addEventListener('abort', stop, { once: true });
  try {
    await bus.nc.flush();
    if (!signal.aborted) live();
    for await (const msg of sub) yield Buffer.from(msg.data);
  } finally {
    signal.removeEventListener('abort', stop);
    sub.unsubscribe();
  }
}
