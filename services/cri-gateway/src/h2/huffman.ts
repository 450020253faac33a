// HPACK's static Huffman code (RFC 7541 §5.2, Appendix B): decoding for the
// CRI socket's header filter (h2/authority-filter.ts), encoding for its tests.
// The code is canonical, so the table below holds only each symbol's code
// length; the codes follow from them (shorter first, then by symbol value).

/** Code length in bits of symbols 0..255; EOS (256) is 30 bits. */
const CODE_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
const EOS = 256;

export class HuffmanError extends Error {}

/** Canonical codes: sort by (length, symbol), count up, shift left when the length grows. */
function canonicalCodes(lengths: readonly number[]): Uint32Array {
  const order = lengths.map((_, sym) => sym).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
  const codes = new Uint32Array(lengths.length);
  let code = 0;
  let len = lengths[order[0]!]!;
  for (const sym of order) {
    code *= 2 ** (lengths[sym]! - len);
    len = lengths[sym]!;
    codes[sym] = code;
    code++;
  }
  return codes;
}

const CODES = canonicalCodes(CODE_LENGTHS);

/** The code of a symbol (0..256) as [bits, length], for tests and tools. */
export function huffmanCode(sym: number): [number, number] {
  return [CODES[sym]!, CODE_LENGTHS[sym]!];
}

// Decoding runs a 4-bit state machine (two steps per input byte). States are
// the code tree's internal nodes; no code is shorter than 5 bits, so a nibble
// completes at most one symbol. Entry: next state (bits 0-7), a symbol ends
// (bit 8), the symbol (bits 9-16), EOS met (bit 17, an error).
const EMIT = 1 << 8;
const FAIL = 1 << 17;

function buildDecoder(): { table: Int32Array; accepting: Uint8Array } {
  // Tree: internal nodes 0..255 (0 = root); a child value >= 0 is an internal
  // node, -(sym+1) a leaf.
  const children: [number, number][] = [[0, 0]];
  const fresh = () => children.push([0, 0]) - 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const len = CODE_LENGTHS[sym]!;
    let node = 0;
    for (let i = len - 1; i >= 0; i--) {
      const bit = Math.floor(CODES[sym]! / 2 ** i) & 1;
      if (i === 0) children[node]![bit] = -(sym + 1);
      else {
        if (children[node]![bit] === 0) children[node]![bit] = fresh();
        node = children[node]![bit]!;
      }
    }
  }
  if (children.length !== 256) throw new Error(`Huffman tree has ${children.length} internal nodes, expected 256`);
  const table = new Int32Array(256 * 16);
  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const next = children[node]![(nibble >> i) & 1]!;
        if (next >= 0) node = next;
        else {
          const sym = -next - 1;
          if (sym === EOS) entry |= FAIL;
          else entry |= EMIT | (sym << 9);
          node = 0;
        }
      }
      table[state * 16 + nibble] = entry | node;
    }
  }
  // A string may end at the root or after at most 7 bits of EOS's prefix (all ones).
  const accepting = new Uint8Array(256);
  for (let node = 0, depth = 0; depth <= 7; depth++, node = children[node]![1]!) accepting[node] = 1;
  return { table, accepting };
}

const { table: DECODE, accepting: ACCEPTING } = buildDecoder();

// Decoded octets go to one shared buffer first (decoding is synchronous).
let scratch = Buffer.allocUnsafe(4096);

/** Decodes a Huffman-coded string to its octets (as a latin1 string). Throws HuffmanError. */
export function huffmanDecode(src: Uint8Array, start = 0, end = src.length): string {
  const most = Math.ceil(((end - start) * 8) / 5);
  if (scratch.length < most) scratch = Buffer.allocUnsafe(most);
  const out = scratch;
  let n = 0;
  let state = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i]!;
    let e = DECODE[state * 16 + (byte >> 4)]!;
    if (e & FAIL) throw new HuffmanError('Huffman string contains EOS');
    if (e & EMIT) out[n++] = (e >> 9) & 0xff;
    e = DECODE[(e & 0xff) * 16 + (byte & 0xf)]!;
    if (e & FAIL) throw new HuffmanError('Huffman string contains EOS');
    if (e & EMIT) out[n++] = (e >> 9) & 0xff;
    state = e & 0xff;
  }
  if (!ACCEPTING[state]) throw new HuffmanError('Huffman string has invalid padding');
  return out.toString('latin1', 0, n);
}

/** Octets a latin1 string takes Huffman-coded. */
export function huffmanLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += CODE_LENGTHS[s.charCodeAt(i) & 0xff]!;
  return Math.ceil(bits / 8);
}

/** Huffman-codes the octets of a latin1 string, padded with EOS's leading ones. */
export function huffmanEncode(s: string): Buffer {
  const out = Buffer.allocUnsafe(huffmanLength(s));
  let acc = 0; // pending bits, at most 7 + 30, so plain arithmetic (not 32-bit shifts)
  let bits = 0;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const sym = s.charCodeAt(i) & 0xff;
    const len = CODE_LENGTHS[sym]!;
    acc = acc * 2 ** len + CODES[sym]!;
    bits += len;
    while (bits >= 8) {
      bits -= 8;
      const div = 2 ** bits;
      out[n++] = Math.floor(acc / div);
      acc %= div;
    }
  }
  if (bits > 0) out[n++] = (acc << (8 - bits)) | ((1 << (8 - bits)) - 1);
  return out;
}
