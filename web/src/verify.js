// The file's SHA-256 computed in the browser, streaming: hash-wasm over slices read one at a time, so
// a file of any size never sits in memory whole.
import { createSHA256 } from "hash-wasm";

const CHUNK = 8 * 1024 * 1024;

export async function sha256OfFile(file, signal = undefined) {
  const hasher = await createSHA256();
  hasher.init();
  for (let offset = 0; offset < file.size; offset += CHUNK) {
    if (signal && signal.aborted) throw new DOMException("cancelled", "AbortError");
    const slice = await file.slice(offset, offset + CHUNK).arrayBuffer();
    hasher.update(new Uint8Array(slice));
  }
  return hasher.digest("hex");
}
