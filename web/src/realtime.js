// AppSync's real-time protocol (subprotocol graphql-ws, auth in the `header-` subprotocol, as Amplify does).
import { errorText } from "./api.js";

function base64url(text) {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function parsed(text) {
  try {
    const message = JSON.parse(text);
    return message && typeof message === "object" ? message : null;
  } catch {
    return null;
  }
}

export class Realtime {
  // header(): the auth headers as of now ({host, "x-api-key"} or {host, Authorization}), asked for at connect
  // and again for each subscription, so a refreshed ID token is used once the first one expires.
  constructor(url, header) {
    this.url = url;
    this.header = header;
    this.subs = new Map(); // id -> {onData, fail, started}
    this.ready = null;
  }

  connect() {
    if (this.ready) return this.ready;
    this.ready = this.header().then((header) => new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url, ["graphql-ws", "header-" + base64url(JSON.stringify(header))]);
      this.ws = ws;
      ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init" }));
      ws.onmessage = (event) => {
        const message = parsed(event.data);
        if (message) this.receive(message, resolve, reject);
      };
      ws.onclose = () => {
        this.ready = null;
        reject(new Error("real-time connection closed"));
        for (const sub of this.subs.values()) sub.fail(new Error("real-time connection closed"));
        this.subs.clear();
      };
    }));
    this.ready.catch(() => {}); // whoever awaits it sees the failure
    return this.ready;
  }

  close() {
    if (this.ws) this.ws.close();
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
        return sub && sub.onData(message.payload || {});
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
    const authorization = await this.header();
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
      payload: { data: JSON.stringify({ query, variables }), extensions: { authorization } },
    }));
    await started;
    return () => {
      if (this.subs.delete(id) && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ id, type: "stop" }));
    };
  }
}
