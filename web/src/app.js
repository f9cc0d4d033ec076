// lambdashare web app, ES modules bundled by esbuild (web/build.mjs). User data only ever goes into textContent.
import "./app.css";
import { gql, Q } from "./api.js";
import { downloadLink, findByHash, keepFileId, loadFiles } from "./files.js";
import { Realtime } from "./realtime.js";
import * as session from "./session.js";
import { loadStats } from "./stats.js";
import { announce, formatSize } from "./ui.js";
import { showHashes, upload } from "./uploads.js";

const $ = (selector) => document.querySelector(selector);
let realtime = null;

// A new real-time connection whenever the page starts acting for someone else (signed in or out).
function connectRealtime() {
  if (realtime) realtime.close();
  const config = session.config();
  const host = new URL(config.graphqlUrl).host;
  realtime = new Realtime(config.realtimeUrl, async () => ({ host, ...(await session.authHeaders()) }));
}

function uploadAll(files) {
  if (!session.canCallApi()) return;
  for (const file of files) {
    upload(file, {
      realtime,
      onStored: keepFileId,
      onDone: () => Promise.all([loadFiles(true), loadStats()]),
    });
  }
}

async function refresh() {
  const signedIn = session.signedIn();
  $("#sign-in-form").hidden = signedIn || !session.accountsAvailable();
  $("#signed-in").hidden = !signedIn;
  $("#user-email").textContent = signedIn ? session.userEmail() : "";
  $("#key-form").hidden = signedIn || session.keyFromConfig();
  $("#files-scope").textContent = signedIn
    ? "The files of your account, newest first."
    : "The files uploaded from this browser: with the API key, a file's id is the key to it.";
  $("#file-input").disabled = !session.canCallApi();
  $("#uploads").replaceChildren();
  if (!session.canCallApi()) {
    $("#files").replaceChildren();
    announce("Sign in, or paste the API key, to start.");
    return;
  }
  connectRealtime();
  await Promise.all([loadFiles(true), loadStats(), route()]);
}

// #/s/<token>: the one file a share link points to, for anyone holding it.
async function route() {
  const match = /^#\/s\/(.+)$/.exec(window.location.hash);
  const shared = $("#shared");
  document.body.classList.toggle("share-page", Boolean(match));
  if (!match) {
    shared.hidden = true;
    return;
  }
  shared.hidden = false;
  const body = $("#shared-file");
  body.replaceChildren();
  if (!session.canCallApi()) return;
  try {
    const { sharedFile: file } = await gql(Q.sharedFile, { token: decodeURIComponent(match[1]) });
    if (!file) {
      body.textContent = "This share link is not valid: it expired or was revoked.";
      return;
    }
    const name = document.createElement("p");
    name.className = "name";
    name.textContent = `${file.name} (${formatSize(file.size)})`;
    const hashes = document.createElement("dl");
    hashes.className = "hashes";
    if (file.hashes) showHashes(hashes, file.hashes);
    body.append(name, hashes, downloadLink(file));
  } catch (error) {
    body.textContent = `This share link could not be opened: ${error.message}`;
  }
}

function wire() {
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
    uploadAll(event.dataTransfer.files);
  });
  $("#more").addEventListener("click", () => loadFiles(false));
  $("#refresh").addEventListener("click", () => Promise.all([loadFiles(true), loadStats()]));
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    findByHash($("#search-sha256").value.trim());
  });
  window.addEventListener("hashchange", () => route());

  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    session.useApiKey($("#api-key").value.trim());
    refresh();
  });

  $("#sign-in-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const action = event.submitter ? event.submitter.value : "sign-in";
    const email = $("#email").value.trim();
    const password = $("#password").value;
    try {
      if (action === "sign-up") {
        const result = await session.signUp(email, password);
        if (!result.userConfirmed) {
          announce("Account created: confirm it with the code sent to your email, then sign in.");
          return;
        }
      }
      await session.signIn(email, password);
      $("#password").value = "";
      await refresh();
      announce(`Signed in as ${session.userEmail()}`);
    } catch (error) {
      announce(`${action === "sign-up" ? "Sign-up" : "Sign-in"} failed: ${error.message}`);
    }
  });
  $("#sign-out").addEventListener("click", async () => {
    session.signOut();
    await refresh();
    announce("Signed out");
  });
}

async function main() {
  try {
    await session.loadConfig();
  } catch (error) {
    announce(`Could not load config.json: ${error.message}`);
    return;
  }
  wire();
  await refresh();
}

main().catch((error) => announce(`The page failed to start: ${error.message}`));
