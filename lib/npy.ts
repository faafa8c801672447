/** The parts of a .npy header that verify checks. */
export interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
  dataOffset: number;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/** Parses a .npy header (versions 1 to 3) from the start of a file; throws a message describing the fault. */
export function parseNpyHeader(head: Buffer): NpyHeader {
  if (head.length < 10 || !head.subarray(0, 6).equals(MAGIC)) throw new Error('not a .npy file (bad magic)');
  const major = head[6];
  const lengthBytes = major === 1 ? 2 : 4;
  if (major < 1 || major > 3) throw new Error(`unsupported .npy version ${major}`);
  const length = lengthBytes === 2 ? head.readUInt16LE(8) : head.readUInt32LE(8);
  const start = 8 + lengthBytes;
  if (head.length < start + length) throw new Error('.npy header is truncated');
  const dict = head.subarray(start, start + length).toString('latin1');
  const descr = /'descr':\s*'([^']*)'/.exec(dict);
  const fortran = /'fortran_order':\s*(True|False)/.exec(dict);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(dict);
  if (!descr || !fortran || !shape) throw new Error(`.npy header is malformed: ${dict.trim()}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new Error(`.npy shape is malformed: (${shape[1]})`);
  return { descr: descr[1], fortranOrder: fortran[1] === 'True', shape: dims, dataOffset: start + length };
}
