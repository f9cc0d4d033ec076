// One upload per row: request a ticket, follow the file's events, send the bytes (multipart for big files,
// resumable after a reload), then show the hashing progress, the digests, whether the browser's own SHA-256
// matches the server's, and whether the content was stored already.
import { errorText, gql, Q } from "./api.js";
import { MULTIPART_THRESHOLD, partSizeFor, put, putParts } from "./transfer.js";
import { signedIn } from "./session.js";
import { announce, formatSize } from "./ui.js";
import { sha256OfFile } from "./verify.js";

const PENDING_STORAGE = "lambdashare.pendingUploads"; // multipart uploads to resume: fingerprint -> {id, partSize}
const HASH_TIMEOUT_MS = 10 * 60 * 1000;
export const ALGORITHMS = ["md5", "sha1", "sha256", "sha512"];

const fingerprint = (file) => JSON.stringify([file.name, file.size, file.lastModified]);

function pendingUploads() {
  try {
    const kept = JSON.parse(localStorage.getItem(PENDING_STORAGE) || "{}");
    return kept && typeof kept === "object" && !Array.isArray(kept) ? kept : {};
  } catch {
    return {};
  }
}

function keepPending(file, entry) {
  const kept = pendingUploads();
  if (entry) kept[fingerprint(file)] = entry;
  else delete kept[fingerprint(file)];
  localStorage.setItem(PENDING_STORAGE, JSON.stringify(kept));
}

export function showHashes(list, hashes) {
  list.replaceChildren();
  for (const name of ALGORITHMS) {
    const term = document.createElement("dt");
    term.textContent = name;
    const value = document.createElement("dd");
    const code = document.createElement("code");
    code.dataset.hash = name;
    code.textContent = hashes[name];
    const copy = document.createElement("button");
    copy.type = "button";
    copy.className = "copy";
    copy.textContent = "Copy";
    copy.setAttribute("aria-label", `Copy ${name}`);
    copy.addEventListener("click", () => copyText(hashes[name], `${name} copied`));
    value.append(code, " ", copy);
    list.append(term, value);
  }
  list.hidden = false;
}

export async function copyText(text, done) {
  try {
    await navigator.clipboard.writeText(text);
    announce(done);
  } catch {
    announce("Copying is not allowed here: select the text instead.");
  }
}

class UploadRow {
  constructor(file) {
    this.element = document.getElementById("upload-template").content.firstElementChild.cloneNode(true);
    this.element.querySelector(".name").textContent = file.name;
    this.element.querySelector(".size").textContent = `(${formatSize(file.size)})`;
    this.transfer = this.element.querySelector("progress.transfer");
    this.hashing = this.element.querySelector("progress.hashing");
    this.transfer.max = Math.max(file.size, 1);
    this.hashing.max = Math.max(file.size, 1);
    this.transfer.setAttribute("aria-label", `Upload of ${file.name}`);
    this.hashing.setAttribute("aria-label", `Hashing of ${file.name}`);
    this.cancel = this.element.querySelector("button.cancel");
    this.cancel.setAttribute("aria-label", `Cancel upload of ${file.name}`);
  }

  status(status, text = status) {
    this.element.dataset.status = status;
    this.element.querySelector(".status").textContent = text;
  }

  note(selector, text) {
    const note = this.element.querySelector(selector);
    note.textContent = text;
    note.hidden = !text;
  }
}

export async function upload(file, { realtime, onStored, onDone }) {
  const row = new UploadRow(file);
  document.getElementById("uploads").prepend(row.element);
  const controller = new AbortController();
  row.cancel.addEventListener("click", () => controller.abort());
  const stops = [];
  let timer = null;
  let id = null;
  let multipart = false;
  // the browser's own digest, computed while the bytes go up
  const localSha256 = sha256OfFile(file, controller.signal);
  localSha256.catch(() => {});
  try {
    const resumed = await resumable(file);
    let ticket;
    let partSize = null;
    if (resumed) {
      ({ id, partSize } = resumed);
      multipart = true;
    } else {
      const input = { name: file.name, size: file.size, contentType: file.type || "application/octet-stream" };
      if (file.size > MULTIPART_THRESHOLD) input.partSize = partSizeFor(file.size);
      ({ requestUpload: ticket } = await gql(Q.requestUpload, { input }));
      id = ticket.file.id;
      multipart = Boolean(ticket.parts);
      partSize = input.partSize;
      if (multipart) keepPending(file, { id, partSize });
    }
    row.element.dataset.id = id;
    onStored(id);

    // Subscribe first and wait for start_ack, so no event can be missed.
    let settle;
    const finished = new Promise((resolve, reject) => { settle = { resolve, reject }; });
    finished.catch(() => {}); // a failure before the bytes are sent is seen where it is awaited, below
    stops.push(await realtime.subscribe(Q.onFileHashed, { id }, (payload) => {
      if (payload.errors) return settle.reject(new Error(errorText(payload)));
      const event = payload.data && payload.data.onFileHashed;
      if (event && (event.status === "HASHED" || event.status === "FAILED")) settle.resolve(event);
      return undefined;
    }, (error) => settle.reject(error)));
    stops.push(await realtime.subscribe(Q.onFileProgress, { id }, (payload) => {
      const progress = payload.data && payload.data.onFileProgress;
      if (progress) row.hashing.value = progress.hashedBytes;
    }, () => {}));

    row.status("uploading");
    const setSent = (bytes) => { row.transfer.value = bytes; };
    if (multipart) await sendParts(file, id, partSize, resumed ? resumed.stored : null, ticket, setSent, controller.signal);
    else await put(ticket, file, setSent, controller.signal);
    keepPending(file, null);
    row.cancel.hidden = true;

    row.status("hashing");
    row.hashing.hidden = false;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("timed out waiting for the hashes")), HASH_TIMEOUT_MS);
    });
    const result = await Promise.race([finished, timeout]);
    if (result.status === "FAILED") throw new Error(result.error || "hashing failed");
    row.hashing.value = row.hashing.max;
    showHashes(row.element.querySelector(".hashes"), result.hashes);

    row.status("verifying", "checking the digest on this device");
    const mine = await localSha256;
    if (mine === result.hashes.sha256) {
      row.note(".verified", "verified: the SHA-256 computed in this browser equals the server's");
    } else {
      row.element.classList.add("mismatch");
      row.note(".error", `MISMATCH: this browser computed SHA-256 ${mine}, the server ${result.hashes.sha256}`);
    }
    await flagDuplicate(row, id, result.hashes.sha256);
    row.status("done");
    announce(`${file.name}: uploaded and hashed`);
  } catch (error) {
    controller.abort();
    if (error.name === "AbortError") {
      row.status("cancelled");
      await forget(id, multipart, file);
      announce(`Upload of ${file.name} cancelled`);
    } else {
      row.note(".error", error.message);
      row.status("failed");
      announce(`Upload of ${file.name} failed: ${error.message}`);
    }
    row.cancel.hidden = true;
  } finally {
    clearTimeout(timer);
    for (const stop of stops) stop();
    onDone();
  }
}

// A multipart upload of this same file begun earlier (before a reload) whose record still exists.
async function resumable(file) {
  const kept = pendingUploads()[fingerprint(file)];
  if (!kept || typeof kept.id !== "string" || typeof kept.partSize !== "number") return null;
  try {
    const { uploadedParts } = await gql(Q.uploadedParts, { id: kept.id });
    return { ...kept, stored: uploadedParts };
  } catch {
    keepPending(file, null);
    return null;
  }
}

// Sends the parts not stored yet (`stored`: uploadedParts after a reload, or null), then completes.
async function sendParts(file, id, partSize, stored, ticket, setSent, signal) {
  const etags = new Map((stored || []).map((part) => [part.number, part.etag]));
  const already = (stored || []).reduce((sum, part) => sum + part.size, 0);
  let parts = ticket ? ticket.parts : [];
  if (stored) ({ resumeUpload: { parts } } = await gql(Q.resumeUpload, { id })); // fresh URLs for the rest
  await putParts(file, partSize, parts, (bytes) => setSent(already + bytes), (number, etag) => etags.set(number, etag), signal);
  const completed = [...etags].sort((a, b) => a[0] - b[0]).map(([number, etag]) => ({ number, etag }));
  await gql(Q.completeUpload, { input: { id, parts: completed } });
}

async function forget(id, multipart, file) {
  if (!id) return;
  keepPending(file, null);
  try {
    await gql(multipart ? Q.abortUpload : Q.deleteFile, { id });
  } catch {
    // the sweeper removes a PENDING file whose upload never finished
  }
}

async function flagDuplicate(row, id, sha256) {
  if (signedIn()) {
    const { filesByHash } = await gql(Q.filesByHash, { sha256 });
    const others = filesByHash.filter((other) => other.id !== id);
    if (others.length) row.note(".duplicate", `Duplicate: this content is already stored as ${others.map((o) => o.name).join(", ")}`);
  } else {
    // duplicateCount counts this upload too, and reveals no other file's id or name
    const { duplicateCount } = await gql(Q.duplicateCount, { sha256 });
    if (duplicateCount > 1) row.note(".duplicate", "Duplicate: this content is already stored");
  }
}
