// "Your files": a signed-in user's `files` (newest first, paged by nextToken), or, with the API key, the
// ids this browser was given (nothing lists the anonymous space: a file id is the capability to it).
import { gql, Q } from "./api.js";
import { signedIn } from "./session.js";
import { announce, formatSize } from "./ui.js";
import { copyText, showHashes } from "./uploads.js";

const FILE_IDS_STORAGE = "lambdashare.fileIds";
const PAGE_SIZE = 20;
const URL_FRESH_MS = 4 * 60 * 1000; // download URLs live 5 minutes (LAMBDASHARE_DOWNLOAD_EXPIRES)

let shown = 0; // anonymous: how many kept ids are shown
let nextToken = null; // signed in: the next page's token
let generation = 0; // a reload discards answers to an older one

export function keptFileIds() {
  try {
    const ids = JSON.parse(localStorage.getItem(FILE_IDS_STORAGE) || "[]");
    return Array.isArray(ids) ? ids.filter((id) => typeof id === "string") : [];
  } catch {
    return [];
  }
}

export function keepFileId(id) {
  if (signedIn()) return; // the user's files are listed by the API
  localStorage.setItem(FILE_IDS_STORAGE, JSON.stringify([id, ...keptFileIds().filter((kept) => kept !== id)]));
}

function forgetFileIds(ids) {
  localStorage.setItem(FILE_IDS_STORAGE, JSON.stringify(keptFileIds().filter((kept) => !ids.includes(kept))));
}

function button(text, label, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.setAttribute("aria-label", label);
  element.addEventListener("click", onClick);
  return element;
}

export function shareLink(token) {
  return `${window.location.origin}${window.location.pathname}#/s/${encodeURIComponent(token)}`;
}

// A link with a real href (the presigned URL), renewed on click when it may have expired.
export function downloadLink(file) {
  const link = document.createElement("a");
  link.textContent = "Download";
  link.setAttribute("aria-label", `Download ${file.name}`);
  link.setAttribute("download", file.name);
  let fetchedAt = file.downloadUrl ? Date.now() : 0;
  if (file.downloadUrl) link.href = file.downloadUrl;
  else link.hidden = true;
  link.addEventListener("click", async (event) => {
    if (Date.now() - fetchedAt < URL_FRESH_MS) return;
    event.preventDefault();
    try {
      const { file: found } = await gql(Q.downloadUrl, { id: file.id });
      if (!found || !found.downloadUrl) throw new Error("not available");
      link.href = found.downloadUrl;
      fetchedAt = Date.now();
      link.click();
    } catch (error) {
      announce(`Download of ${file.name} failed: ${error.message}`);
    }
  });
  return link;
}

function fileRow(file) {
  const row = document.createElement("li");
  row.dataset.id = file.id;
  if (file.hashes) row.dataset.sha256 = file.hashes.sha256;
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = file.name;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `${formatSize(file.size)} · ${file.status} · ${new Date(file.createdAt).toLocaleString()}`;

  const details = document.createElement("div");
  details.className = "details";
  details.id = `details-${file.id}`;
  details.hidden = true;
  const hashes = document.createElement("dl");
  hashes.className = "hashes";
  if (file.hashes) showHashes(hashes, file.hashes);
  const share = document.createElement("div");
  share.className = "share";
  details.append(hashes, share);

  const toggle = button("Details", `Details of ${file.name}`, () => {
    details.hidden = !details.hidden;
    toggle.setAttribute("aria-expanded", String(!details.hidden));
  });
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-controls", details.id);

  const shareButton = button("Share", `Share ${file.name}`, async () => {
    try {
      const { shareFile } = await gql(Q.shareFile, { id: file.id, expiresIn: 86400 });
      showShare(share, file, shareFile);
      details.hidden = false;
      toggle.setAttribute("aria-expanded", "true");
      announce(`Share link for ${file.name} created`);
    } catch (error) {
      announce(`Sharing ${file.name} failed: ${error.message}`);
    }
  });

  const remove = button("Delete", `Delete ${file.name}`, async () => {
    try {
      await gql(Q.deleteFile, { id: file.id });
      forgetFileIds([file.id]);
      row.remove();
      announce(`${file.name} deleted`);
    } catch (error) {
      announce(`Delete of ${file.name} failed: ${error.message}`);
    }
  });

  const actions = document.createElement("span");
  actions.className = "actions";
  actions.append(downloadLink(file), toggle, shareButton, remove);
  row.append(name, " ", meta, " ", actions, details);
  return row;
}

function showShare(container, file, share) {
  const link = shareLink(share.token);
  const text = document.createElement("input");
  text.readOnly = true;
  text.value = link;
  text.setAttribute("aria-label", `Share link for ${file.name}`);
  const expires = document.createElement("small");
  expires.textContent = `valid until ${new Date(share.expiresAt).toLocaleString()}`;
  const copy = button("Copy share link", `Copy share link for ${file.name}`, () => copyText(link, "Share link copied"));
  const revoke = button("Revoke", `Revoke share link for ${file.name}`, async () => {
    try {
      await gql(Q.revokeShare, { token: share.token });
      container.replaceChildren();
      announce(`Share link for ${file.name} revoked`);
    } catch (error) {
      announce(`Revoking failed: ${error.message}`);
    }
  });
  container.replaceChildren(text, " ", copy, " ", revoke, " ", expires);
}

export async function loadFiles(reset) {
  const list = document.getElementById("files");
  const more = document.getElementById("more");
  const mine = ++generation;
  try {
    if (reset) {
      shown = 0;
      nextToken = null;
    }
    let found;
    if (signedIn()) {
      const { files } = await gql(Q.files, { limit: PAGE_SIZE, nextToken });
      found = files.items;
      nextToken = files.nextToken;
    } else {
      const page = keptFileIds().slice(shown, shown + PAGE_SIZE);
      const answers = await Promise.all(page.map(async (id) => (await gql(Q.file, { id })).file));
      forgetFileIds(page.filter((id, index) => answers[index] === null)); // deleted meanwhile
      found = answers.filter((file) => file !== null);
      shown += found.length;
    }
    if (mine !== generation) return;
    if (reset) list.replaceChildren();
    list.append(...found.map(fileRow));
    more.hidden = signedIn() ? !nextToken : shown >= keptFileIds().length;
  } catch (error) {
    announce(`Could not list files: ${error.message}`);
  }
}

// Find by SHA-256: a signed-in user's files holding that content (filesByHash); with the API key, how many
// files of the anonymous space hold it (duplicateCount, which names none) and which of those listed here do.
export async function findByHash(sha256) {
  const result = document.getElementById("search-result");
  const wanted = sha256.toLowerCase();
  try {
    let text;
    if (signedIn()) {
      const { filesByHash } = await gql(Q.filesByHash, { sha256: wanted });
      text = filesByHash.length
        ? `${filesByHash.length} of your files ${filesByHash.length === 1 ? "holds" : "hold"} this content: `
          + filesByHash.map((f) => f.name).join(", ")
        : "None of your files holds this content.";
    } else {
      const { duplicateCount } = await gql(Q.duplicateCount, { sha256: wanted });
      const here = [...document.querySelectorAll("#files > li")]
        .filter((row) => row.dataset.sha256 === wanted)
        .map((row) => row.querySelector(".name").textContent);
      const files = duplicateCount === 1 ? "hashed file of the anonymous space holds" : "hashed files of the anonymous space hold";
      text = `${duplicateCount} ${files} this content`
        + (here.length ? `, listed here: ${here.join(", ")}.` : "; none of them is listed here.");
    }
    result.textContent = text;
    result.hidden = false;
    announce(text);
  } catch (error) {
    announce(`Search failed: ${error.message}`);
  }
}
