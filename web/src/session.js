// Who the app acts as: a signed-in user (Cognito user pool, `Authorization: <ID token>`) or the API key's
// anonymous space. Sign-up and sign-in go to the pool's own API (config.userPoolEndpoint) through
// amazon-cognito-identity-js, whose sign-in is SRP (the password never leaves the browser).
import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserAttribute,
  CognitoUserPool,
} from "amazon-cognito-identity-js";

const KEY_STORAGE = "lambdashare.apiKey";
let runtimeConfig = null;
let pool = null;
let apiKey = null;
let session = null; // a CognitoUserSession while signed in

export function config() {
  return runtimeConfig;
}

export async function loadConfig() {
  const response = await fetch("config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  runtimeConfig = await response.json();
  if (runtimeConfig.userPoolId && runtimeConfig.userPoolClientId) {
    pool = new CognitoUserPool({
      UserPoolId: runtimeConfig.userPoolId,
      ClientId: runtimeConfig.userPoolClientId,
      endpoint: runtimeConfig.userPoolEndpoint || undefined,
    });
  }
  apiKey = runtimeConfig.apiKey || sessionStorage.getItem(KEY_STORAGE);
  session = await restoredSession();
  return runtimeConfig;
}

export const accountsAvailable = () => pool !== null;
export const signedIn = () => session !== null;
export const canCallApi = () => signedIn() || Boolean(apiKey);
export const keyFromConfig = () => Boolean(runtimeConfig && runtimeConfig.apiKey);

export function userEmail() {
  if (!session) return null;
  const claims = session.getIdToken().decodePayload();
  return claims.email || claims["cognito:username"] || "";
}

export function useApiKey(key) {
  apiKey = key;
  sessionStorage.setItem(KEY_STORAGE, key);
}

// A fresh session: the library refreshes the tokens with the refresh token when they expire.
function restoredSession() {
  const user = pool && pool.getCurrentUser();
  if (!user) return Promise.resolve(null);
  return new Promise((resolve) => {
    user.getSession((error, restored) => resolve(error || !restored || !restored.isValid() ? null : restored));
  });
}

export async function authHeaders() {
  if (session) {
    session = (await restoredSession()) || session;
    return { Authorization: session.getIdToken().getJwtToken() };
  }
  return apiKey ? { "x-api-key": apiKey } : {};
}

export function signUp(email, password) {
  return new Promise((resolve, reject) => {
    const attributes = [new CognitoUserAttribute({ Name: "email", Value: email })];
    pool.signUp(email, password, attributes, null, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

export function signIn(email, password) {
  const user = new CognitoUser({ Username: email, Pool: pool });
  const details = new AuthenticationDetails({ Username: email, Password: password });
  return new Promise((resolve, reject) => {
    user.authenticateUser(details, {
      onSuccess: (signedInSession) => {
        session = signedInSession;
        resolve(signedInSession);
      },
      onFailure: reject,
      newPasswordRequired: () => reject(new Error("This account needs a new password; set it with the pool's tools.")),
      mfaRequired: () => reject(new Error("This account needs a second factor, which this page does not support.")),
      totpRequired: () => reject(new Error("This account needs a second factor, which this page does not support.")),
    });
  });
}

export function signOut() {
  const user = pool && pool.getCurrentUser();
  if (user) user.signOut();
  session = null;
}
