// Sending a file's bytes to the presigned URLs: one PUT, or parts a few at a time (multipart), each an
// XMLHttpRequest for its upload progress events. Storage errors (S3's XML) become their message.
export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
export const MIN_PART_SIZE = 8 * 1024 * 1024;
const MAX_PARTS = 1000; // a ticket names at most 1000 parts: choose parts big enough for one ticket
const PARALLEL_PARTS = 3;

export function partSizeFor(size) {
  const mib = 1024 * 1024;
  return Math.max(MIN_PART_SIZE, Math.ceil(size / MAX_PARTS / mib) * mib);
}

function storageError(xhr) {
  const text = xhr.responseText || "";
  const message = /<Message>([^<]*)<\/Message>/.exec(text);
  return `storage refused the upload (HTTP ${xhr.status}${message ? `: ${message[1]}` : ""})`;
}

function parsedHeaders(json) {
  try {
    const headers = JSON.parse(json || "{}");
    return headers && typeof headers === "object" ? headers : {};
  } catch {
    return {};
  }
}

function abortError() {
  return new DOMException("cancelled", "AbortError");
}

// PUTs `body`; resolves with the response's ETag.
export function put(target, body, onProgress, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortError());
    const xhr = new XMLHttpRequest();
    xhr.open(target.method || "PUT", target.url);
    for (const [name, value] of Object.entries(parsedHeaders(target.headers))) {
      if (!["host", "content-length"].includes(name.toLowerCase())) xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (event) => onProgress(event.loaded);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(body.size);
        resolve(xhr.getResponseHeader("ETag"));
      } else {
        reject(new Error(storageError(xhr)));
      }
    };
    xhr.onerror = () => reject(new Error("the upload failed: network error"));
    xhr.onabort = () => reject(abortError());
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(body);
    return undefined;
  });
}

// Sends `parts` (from a ticket) of `file`, PARALLEL_PARTS at a time; calls onPart(number, etag) as each
// is stored and onProgress(bytesSentOfThese) as bytes go.
export async function putParts(file, partSize, parts, onProgress, onPart, signal) {
  const sent = new Map();
  const report = () => onProgress([...sent.values()].reduce((sum, n) => sum + n, 0));
  const queue = [...parts];
  async function worker() {
    while (queue.length) {
      const part = queue.shift();
      const start = (part.number - 1) * partSize;
      const body = file.slice(start, Math.min(start + partSize, file.size));
      const etag = await put(part, body, (loaded) => {
        sent.set(part.number, loaded);
        report();
      }, signal);
      onPart(part.number, etag);
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, queue.length) }, worker));
}
