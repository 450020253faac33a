// A directory of durable records with an in-memory index: one JSON file per
// record, names reserved so two creates of the same name cannot both win
// (kubelet retries), ids resolvable by unique prefix (crictl style).
import path from 'node:path';
import { AlreadyExistsError, NotFoundError, InvalidArgumentError, loadJsonDir, removeAtomic, writeJsonAtomic, type Logger } from '@crius/common';

export interface StoredRecord {
  version: number;
  id: string;
  name: string;
}

export class RecordStore<T extends StoredRecord> {
  private readonly byId = new Map<string, T>();
  /** name → id, including names reserved by creates still in progress. */
  private readonly names = new Map<string, string>();

  constructor(
    readonly dir: string,
    private readonly kind: string,
  ) {}

  /** Load every record; unreadable ones are logged and left aside, never fatal. */
  async load(log: Logger, accept: (r: T) => boolean = () => true): Promise<string[]> {
    const bad: string[] = [];
    for (const rec of await loadJsonDir<T>(this.dir)) {
      if (!rec.value || typeof rec.value.id !== 'string' || !accept(rec.value)) {
        log.error({ file: rec.file, err: rec.error ?? 'not a valid record' }, `skipping unreadable ${this.kind} record`);
        bad.push(rec.file);
        continue;
      }
      this.byId.set(rec.value.id, rec.value);
      this.names.set(rec.value.name, rec.value.id);
    }
    return bad;
  }

  /** Reserve a unique name for an id; the same id may re-reserve (idempotent). */
  reserveName(name: string, id: string): void {
    const holder = this.names.get(name);
    if (holder !== undefined && holder !== id) {
      throw new AlreadyExistsError(`${this.kind} name "${name}" is reserved for ${this.kind} ${holder}`);
    }
    this.names.set(name, id);
  }

  releaseName(name: string, id: string): void {
    if (this.names.get(name) === id) this.names.delete(name);
  }

  idForName(name: string): string | undefined {
    return this.names.get(name);
  }

  /** Look up by full id or unique prefix. */
  get(idOrPrefix: string): T {
    const found = this.find(idOrPrefix);
    if (!found) throw new NotFoundError(`${this.kind} "${idOrPrefix}" not found`);
    return found;
  }

  find(idOrPrefix: string): T | undefined {
    const exact = this.byId.get(idOrPrefix);
    if (exact || !idOrPrefix) return exact;
    let match: T | undefined;
    for (const [id, rec] of this.byId) {
      if (!id.startsWith(idOrPrefix)) continue;
      if (match) throw new InvalidArgumentError(`${this.kind} id prefix "${idOrPrefix}" is ambiguous`);
      match = rec;
    }
    return match;
  }

  list(): T[] {
    return [...this.byId.values()];
  }

  /** Persist, then publish in memory. */
  async put(record: T): Promise<void> {
    await writeJsonAtomic(this.file(record.id), record);
    this.byId.set(record.id, record);
    this.names.set(record.name, record.id);
  }

  async update(id: string, change: (r: T) => Partial<T>): Promise<T> {
    const current = this.get(id);
    const next = { ...current, ...change(current) };
    await this.put(next);
    return next;
  }

  async remove(id: string): Promise<void> {
    const rec = this.byId.get(id);
    await removeAtomic(this.file(id));
    if (!rec) return;
    this.byId.delete(id);
    this.releaseName(rec.name, id);
  }

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }
}
