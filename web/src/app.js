// lambdashare web app, an ES module bundled by esbuild (web/build.mjs). User data only ever goes into textContent.

const KEY_STORAGE = "lambdashare.apiKey";
// With the API key a file id is the capability: nothing lists the anonymous space, so this browser
// keeps the ids it was given (newest first) and shows those as "Your files".
const FILE_IDS_STORAGE = "lambdashare.fileIds";
const HASH_TIMEOUT_MS = 120000;
const PAGE_SIZE = 20;
const $ = (selector) => document.querySelector(selector);

const FILE_FIELDS = "id name size status hashes { md5 sha1 sha256 sha512 } error";
const Q = {
  requestUpload: `mutation RequestUpload($input: RequestUploadInput!) {
    requestUpload(input: $input) { file { id } url method headers } }`,
  onFileHashed: `subscription OnFileHashed($id: ID) { onFileHashed(id: $id) { ${FILE_FIELDS} } }`,
  duplicateCount: "query DuplicateCount($sha256: String!) { duplicateCount(sha256: $sha256) }",
  file: "query File($id: ID!) { file(id: $id) { id name size status createdAt } }",
  downloadUrl: "query File($id: ID!) { file(id: $id) { downloadUrl } }",
  deleteFile: "mutation DeleteFile($id: ID!) { deleteFile(id: $id) { id } }",
};

let config = null;
let apiKey = null;
let realtime = null;
let shown = 0; // how many of the kept ids "Your files" shows

// ---- GraphQL over HTTP ----------------------------------------------------------------------------

async function gql(query, variables = {}) {
  const response = await fetch(config.graphqlUrl, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": apiKey },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => ({}));
  if (body.errors && body.errors.length) throw new Error(body.errors.map((e) => e.message).join("; "));
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return body.data;
}

// ---- AppSync real-time protocol (graphql-ws, Amplify-style header- subprotocol) -----------------------

function base64url(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

class Realtime {
  constructor(url, header) {
    this.url = url;
    this.header = header;
    this.subs = new Map(); // id -> {onData, onError, started: {resolve, reject}}
    this.ready = null;
  }

  connect() {
    if (this.ready) return this.ready;
    this.ready = new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, ["graphql-ws", "header-" + base64url(JSON.stringify(this.header))]);
      this.ws = ws;
      ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init" }));
      ws.onmessage = (event) => this.receive(JSON.parse(event.data), resolve, reject);
      ws.onclose = () => {
        this.ready = null;
        reject(new Error("real-time connection closed"));
        for (const sub of this.subs.values()) sub.fail(new Error("real-time connection closed"));
        this.subs.clear();
      };
    });
    return this.ready;
  }

  receive(message, resolve, reject) {
    const sub = message.id !== undefined ? this.subs.get(message.id) : undefined;
    switch (message.type) {
      case "connection_ack":
        return resolve();
      case "connection_error":
        return reject(new Error(errorText(message.payload)));
      case "start_ack":
        return sub && sub.started.resolve();
      case "data":
        return sub && sub.onData(message.payload);
      case "error":
        if (sub) sub.fail(new Error(errorText(message.payload)));
        return undefined;
      case "complete":
        this.subs.delete(message.id);
        return undefined;
      default: // "ka" and anything new: nothing to do
        return undefined;
    }
  }

  // Resolves after start_ack, with a function that stops the subscription.
  async subscribe(query, variables, onData, onError) {
    await this.connect();
    const id = crypto.randomUUID();
    const started = new Promise((resolve, reject) => {
      const fail = (error) => {
        this.subs.delete(id);
        reject(error);
        onError(error);
      };
      this.subs.set(id, { onData, fail, started: { resolve, reject } });
    });
    started.catch(() => {}); // failures reach onError too
    this.ws.send(JSON.stringify({
      id,
      type: "start",
      payload: { data: JSON.stringify({ query, variables }), extensions: { authorization: this.header } },
    }));
    await started;
    return () => {
      if (this.subs.has(id) && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ id, type: "stop" }));
    };
  }
}

function errorText(payload) {
  const errors = (payload && payload.errors) || [];
  return errors.map((e) => e.message || e.errorType).join("; ") || "unknown error";
}

// ---- Uploads ------------------------------------------------------------------------------------------

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function setStatus(row, status) {
  row.dataset.status = status;
  row.querySelector(".status").textContent = status;
}

function showHashes(row, hashes) {
  const list = row.querySelector(".hashes");
  for (const name of ["md5", "sha1", "sha256", "sha512"]) {
    const term = document.createElement("dt");
    term.textContent = name;
    const value = document.createElement("dd");
    const code = document.createElement("code");
    code.dataset.hash = name;
    code.textContent = hashes[name];
    value.append(code);
    list.append(term, value);
  }
  list.hidden = false;
}

async function upload(file) {
  const row = $("#upload-template").content.firstElementChild.cloneNode(true);
  row.querySelector(".name").textContent = file.name;
  row.querySelector(".size").textContent = `(${formatSize(file.size)})`;
  $("#uploads").prepend(row);
  let stop = () => {};
  try {
    const contentType = file.type || "application/octet-stream";
    const { requestUpload: ticket } = await gql(Q.requestUpload, {
      input: { name: file.name, size: file.size, contentType },
    });
    const id = ticket.file.id;
    row.dataset.id = id;
    keepFileId(id);
    // Subscribe first and wait for start_ack, so the HASHED event cannot be missed.
    let settle;
    const finished = new Promise((resolve, reject) => { settle = { resolve, reject }; });
    stop = await realtime.subscribe(Q.onFileHashed, { id }, (payload) => {
      if (payload.errors) return settle.reject(new Error(errorText(payload)));
      const event = payload.data && payload.data.onFileHashed;
      if (event && (event.status === "HASHED" || event.status === "FAILED")) settle.resolve(event);
      return undefined;
    }, (error) => settle.reject(error));

    setStatus(row, "uploading");
    const response = await fetch(ticket.url, { method: ticket.method, headers: JSON.parse(ticket.headers || "{}"), body: file });
    if (!response.ok) throw new Error(`upload failed: HTTP ${response.status} ${await response.text()}`);

    setStatus(row, "hashing");
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("timed out waiting for the hashes")), HASH_TIMEOUT_MS));
    const result = await Promise.race([finished, timeout]);
    if (result.status === "FAILED") throw new Error(result.error || "hashing failed");

    showHashes(row, result.hashes);
    // duplicateCount counts this upload too, and reveals no other file's id or name
    const { duplicateCount } = await gql(Q.duplicateCount, { sha256: result.hashes.sha256 });
    if (duplicateCount > 1) {
      const note = row.querySelector(".duplicate");
      note.textContent = "Duplicate: this content is already stored";
      note.hidden = false;
    }
    setStatus(row, "done");
  } catch (error) {
    const message = row.querySelector(".error");
    message.textContent = error.message;
    message.hidden = false;
    setStatus(row, "failed");
  } finally {
    stop();
    loadFiles(true);
  }
}

function uploadAll(files) {
  for (const file of files) upload(file);
}

// ---- Your files ---------------------------------------------------------------------------------------

function fileRow(file) {
  const row = document.createElement("li");
  row.dataset.id = file.id;
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = file.name;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `${formatSize(file.size)} · ${file.status} · ${new Date(file.createdAt).toLocaleString()}`;

  const download = document.createElement("a");
  download.textContent = "Download";
  download.href = "#";
  download.setAttribute("aria-label", `Download ${file.name}`);
  download.addEventListener("click", async (event) => {
    event.preventDefault(); // download URLs are short-lived: ask for a fresh one on each click
    try {
      const { file: found } = await gql(Q.downloadUrl, { id: file.id });
      if (!found || !found.downloadUrl) throw new Error("not available (yet)");
      window.location.assign(found.downloadUrl);
    } catch (error) {
      notify(`Download of ${file.name} failed: ${error.message}`);
    }
  });

  const remove = document.createElement("button");
  remove.type = "button";
  remove.textContent = "Delete";
  remove.setAttribute("aria-label", `Delete ${file.name}`);
  remove.addEventListener("click", async () => {
    try {
      await gql(Q.deleteFile, { id: file.id });
      forgetFileIds([file.id]);
      row.remove();
    } catch (error) {
      notify(`Delete of ${file.name} failed: ${error.message}`);
    }
  });

  row.append(name, " ", meta, " ", download, " ", remove);
  return row;
}

function keptFileIds() {
  try {
    const ids = JSON.parse(localStorage.getItem(FILE_IDS_STORAGE) || "[]");
    return Array.isArray(ids) ? ids.filter((id) => typeof id === "string") : [];
  } catch {
    return [];
  }
}

function keepFileId(id) {
  localStorage.setItem(FILE_IDS_STORAGE, JSON.stringify([id, ...keptFileIds().filter((kept) => kept !== id)]));
}

function forgetFileIds(ids) {
  localStorage.setItem(FILE_IDS_STORAGE, JSON.stringify(keptFileIds().filter((kept) => !ids.includes(kept))));
}

async function loadFiles(reset) {
  try {
    if (reset) shown = 0;
    const page = keptFileIds().slice(shown, shown + PAGE_SIZE);
    const found = await Promise.all(page.map(async (id) => (await gql(Q.file, { id })).file));
    forgetFileIds(page.filter((id, index) => found[index] === null)); // deleted meanwhile
    if (reset) $("#files").replaceChildren();
    $("#files").append(...found.filter((file) => file !== null).map(fileRow));
    shown += found.filter((file) => file !== null).length;
    $("#more").hidden = shown >= keptFileIds().length;
  } catch (error) {
    notify(`Could not list files: ${error.message}`);
  }
}

// ---- Start-up -------------------------------------------------------------------------------------------

function notify(text) {
  const notice = $("#notice");
  notice.textContent = text;
  notice.hidden = !text;
}

function useKey(key) {
  apiKey = key;
  realtime = new Realtime(config.realtimeUrl, { host: new URL(config.graphqlUrl).host, "x-api-key": apiKey });
  $("#file-input").disabled = false;
  notify("");
  loadFiles(true);
}

async function main() {
  try {
    const response = await fetch("config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    config = await response.json();
  } catch (error) {
    notify(`Could not load config.json: ${error.message}`);
    return;
  }

  const input = $("#file-input");
  input.addEventListener("change", () => {
    uploadAll(input.files);
    input.value = "";
  });
  const zone = $("#drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    if (apiKey) uploadAll(event.dataTransfer.files);
  });
  $("#more").addEventListener("click", () => loadFiles(false));
  $("#refresh").addEventListener("click", () => loadFiles(true));

  const form = $("#key-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("#api-key").value.trim();
    sessionStorage.setItem(KEY_STORAGE, key);
    useKey(key);
  });

  const key = config.apiKey || sessionStorage.getItem(KEY_STORAGE);
  if (config.apiKey === null || config.apiKey === undefined) form.hidden = false;
  if (key) useKey(key);
  else notify("Paste the API key to start.");
}

main();
