// Per-layer progress of `crius pull`, from the ImagePullProgress events that
// image-svc publishes on crius.v1.events.pull.<ref>. Reading them needs the
// 'observer' bus credentials; without them the pull simply shows no bars.
import type { NatsConnection } from 'nats';
import { EVENTS_ROOT, connectBus, credentialsDir, type CriusConfig } from '@crius/common';
import { ImagePullProgress } from '@crius/common/proto/events';
import type { Output } from './command.js';
import { humanSize } from './format.js';

export interface LayerProgress {
  digest: string;
  done: number;
  total: number;
}

/** Does a progress event (full reference, e.g. docker.io/library/busybox:latest) belong to what the user asked for? */
export function matchesRef(eventImage: string, asked: string): boolean {
  const last = asked.slice(asked.lastIndexOf('/') + 1);
  const want = asked.includes('@') || last.includes(':') ? asked : `${asked}:latest`;
  return eventImage === want || eventImage.endsWith(`/${want}`) || eventImage === asked;
}

/** The state of each layer of one pull, in the order first seen. */
export class PullBoard {
  readonly layers = new Map<string, LayerProgress>();

  update(e: { layerDigest: string; done: bigint | number; total: bigint | number }): void {
    const prev = this.layers.get(e.layerDigest);
    const done = Math.max(Number(e.done), prev?.done ?? 0);
    this.layers.set(e.layerDigest, { digest: e.layerDigest, done, total: Number(e.total) });
  }

  /** One line per layer: short digest, a bar, bytes. */
  lines(barWidth = 30): string[] {
    return [...this.layers.values()].map((l) => {
      const name = l.digest.replace(/^sha256:/, '').slice(0, 12);
      if (l.total > 0 && l.done >= l.total) return `${name}: done ${humanSize(l.total)}`;
      const frac = l.total > 0 ? Math.min(1, l.done / l.total) : 0;
      const filled = Math.floor(frac * barWidth);
      const bar = '='.repeat(filled) + (filled < barWidth ? '>' : '') + ' '.repeat(Math.max(0, barWidth - filled - 1));
      return `${name}: [${bar}] ${humanSize(l.done)}/${humanSize(l.total)}`;
    });
  }
}

/** Redraws the board in place on a terminal, at most ten times a second. */
export class TtyProgress {
  private drawn = 0;
  private last = 0;

  constructor(
    private readonly out: Output,
    private readonly board: PullBoard,
  ) {}

  draw(force = false): void {
    const now = Date.now();
    if (!force && now - this.last < 100) return;
    this.last = now;
    const lines = this.board.lines();
    const up = this.drawn > 0 ? `\x1b[${this.drawn}F\x1b[J` : '';
    this.out.write(up + lines.map((l) => `${l}\n`).join(''));
    this.drawn = lines.length;
  }
}

/**
 * Subscribes to the pull progress events of `image` on the crius bus; undefined
 * when the observer credentials cannot be read or the bus cannot be reached.
 */
export async function watchPullProgress(cfg: CriusConfig, image: string, onProgress: (p: ImagePullProgress) => void): Promise<(() => Promise<void>) | undefined> {
  let nc: NatsConnection;
  try {
    nc = await connectBus({ address: cfg.bus.address, user: 'observer', credentialsDir: credentialsDir(cfg), name: 'crius-cli', reconnect: false });
  } catch {
    return undefined;
  }
  const sub = nc.subscribe(`${EVENTS_ROOT}.pull.>`);
  void (async () => {
    for await (const msg of sub) {
      let p: ImagePullProgress;
      try {
        p = ImagePullProgress.decode(msg.data);
      } catch {
        continue; // another event kind on the image subjects
      }
      // ImagePulled shares the subjects and decodes here with no byte counts: skip it.
      if (p.layerDigest && (p.total > 0n || p.done > 0n) && matchesRef(p.image, image)) onProgress(p);
    }
  })();
  await nc.flush();
  return async () => {
    // Let progress published just before the pull's reply arrive first.
    await nc.flush().catch(() => undefined);
    await nc.drain().catch(() => undefined);
  };
}
