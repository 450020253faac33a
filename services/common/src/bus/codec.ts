// The shape of a ts-proto generated message object, which is all the bus needs
// to turn typed messages into bytes and back.

export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: never): T;
}

export function encode<T>(codec: MessageCodec<T>, message: T): Uint8Array {
  return codec.encode(message).finish();
}
