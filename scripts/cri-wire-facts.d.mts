// Types for cri-wire-facts.mjs, so tests type-check against it.
export interface FieldFact {
  number: number;
  name: string;
  label: 'optional' | 'required' | 'repeated';
  type: string;
  typeName?: string;
  map?: string;
  oneof?: string;
  proto3Optional?: boolean;
}
export interface RpcFact {
  input: string;
  output: string;
  clientStreaming: boolean;
  serverStreaming: boolean;
}
export interface WireFacts {
  package: string;
  messages: Record<string, FieldFact[]>;
  enums: Record<string, Record<string, number>>;
  services: Record<string, Record<string, RpcFact>>;
}
export const UPSTREAM_PATH: string;
export function compileDescriptorSet(protoFile: string): Buffer;
export function wireFacts(descriptorSet: Uint8Array): WireFacts;
export function compileFacts(protoFile: string): WireFacts;
export function diffFacts(ours: WireFacts, upstream: WireFacts): string[];
export function addRpcs(base: WireFacts, extra: WireFacts, rpcNames: string[]): WireFacts;
export function formatFixture(fixture: WireFacts & { about: string; sources: object[] }): string;
