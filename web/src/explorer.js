// The GraphQL explorer (GraphiQL), bundled from npm: no CDN. HTTP requests and subscriptions
// (graphql-transport-ws, same origin) carry the same auth: a signed-in web app user's ID token,
// or else the headers the emulator put into the page (the API key, for a browser on its machine).
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import "graphiql/graphiql.css";

function pageHeaders() {
  const element = document.getElementById("explorer-config");
  try {
    const config = JSON.parse(element ? element.textContent : "{}");
    return config && typeof config.headers === "object" && config.headers !== null ? config.headers : {};
  } catch {
    return {};
  }
}

// amazon-cognito-identity-js (the web app's sign-in) keeps the session in localStorage under
// CognitoIdentityServiceProvider.<client id>.<user>.idToken, with LastAuthUser naming the user.
function signedInToken() {
  for (let index = 0; index < localStorage.length; index += 1) {
    const key = localStorage.key(index);
    if (!key || !key.startsWith("CognitoIdentityServiceProvider.") || !key.endsWith(".LastAuthUser")) continue;
    const user = localStorage.getItem(key);
    const token = user && localStorage.getItem(`${key.slice(0, -"LastAuthUser".length)}${user}.idToken`);
    if (token && tokenIsFresh(token)) return token;
  }
  return null;
}

function tokenIsFresh(token) {
  try {
    const claims = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof claims.exp === "number" && claims.exp * 1000 > Date.now();
  } catch {
    return false;
  }
}

const token = signedInToken();
const headers = token ? { Authorization: token } : pageHeaders();
const origin = new URL("/graphql", window.location.href);
const fetcher = createGraphiQLFetcher({
  url: origin.href,
  subscriptionUrl: origin.href.replace(/^http/, "ws"),
  wsConnectionParams: headers,
});

// ?query=… opens the explorer with that document (a link to an example, as GraphiQL's own pages allow)
const linkedQuery = new URLSearchParams(window.location.search).get("query");

const root = createRoot(document.getElementById("graphiql"));
root.render(
  createElement(GraphiQL, {
    fetcher,
    ...(linkedQuery ? { query: linkedQuery } : {}),
    defaultHeaders: JSON.stringify(headers, null, 2),
    defaultEditorToolsVisibility: true,
    shouldPersistHeaders: false,
  }),
);
