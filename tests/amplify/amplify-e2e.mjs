// Drive the real AWS Amplify JS v6 client against the local emulator (`lambdashare serve --tls`).
//
//   node amplify-e2e.mjs <graphql-endpoint> <api-key> [upload-size] [timeout-ms]
//   (or LAMBDASHARE_ENDPOINT / LAMBDASHARE_API_KEY / LAMBDASHARE_UPLOAD_SIZE / LAMBDASHARE_TIMEOUT_MS)
//   (the API key is required but unused with LAMBDASHARE_AUTH_MODE=userPool)
//
// Trust the emulator's self-signed certificate with NODE_EXTRA_CA_CERTS=<data-dir>/tls-cert.pem.
//
// LAMBDASHARE_AUTH_MODE=userPool: instead of the API key, sign up and sign in a new user with Amplify Auth
// against the local user pool (`userPoolEndpoint` and the pool's ids from <base>/config.json), with
// Amplify's default sign-in (USER_SRP_AUTH: no authFlowType) and LAMBDASHARE_PASSWORD, refresh its tokens,
// then do everything below as that user (authMode 'userPool').
//
// stdout: one JSON object per line, in this order (tests/e2e/test_amplify.py reads them):
//   {"step":"signedIn","signedIn":{...}} userPool mode only: the sign-up and sign-in results, the session's ids
//   {"step":"ticket","ticket":{...}}     requestUpload's result; printed once the onFileHashed(id)
//                                        subscription is acknowledged (start_ack), so the bytes can go
//   {"step":"event","event":{...}}       the onFileHashed payload the subscription received
//   {"step":"file","file":{...}}         the file(id) query's result
//   {"step":"stopped","complete":bool}   after unsubscribing: whether the server answered `complete`
// stderr: one JSON object per line describing the wire traffic ({"wire": ...}) and any failure.
// Exit 0 on success; 1 on a GraphQL/client error; 2 on bad usage; 3 when the deadline passes.

import { Amplify } from 'aws-amplify';
import { generateClient } from 'aws-amplify/api';
import { fetchAuthSession, signIn, signUp } from 'aws-amplify/auth';
import { Hub } from 'aws-amplify/utils';
import WebSocket from 'ws';

const [endpoint, apiKey, sizeText, timeoutText] = [
  process.argv[2] ?? process.env.LAMBDASHARE_ENDPOINT,
  process.argv[3] ?? process.env.LAMBDASHARE_API_KEY,
  process.argv[4] ?? process.env.LAMBDASHARE_UPLOAD_SIZE ?? '1024',
  process.argv[5] ?? process.env.LAMBDASHARE_TIMEOUT_MS ?? '60000',
];
const authMode = process.env.LAMBDASHARE_AUTH_MODE ?? 'apiKey';
if (!endpoint || !apiKey || !['apiKey', 'userPool'].includes(authMode)) {
  process.stderr.write('usage: node amplify-e2e.mjs <graphql-endpoint> <api-key> [upload-size] [timeout-ms]\n');
  process.exit(2);
}

const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const wire = ({ kind, ...details }) => process.stderr.write(`${JSON.stringify({ wire: kind, ...details })}\n`);
const fail = (code, what, error) => {
  process.stderr.write(`${JSON.stringify({ failure: what, error: describe(error) })}\n`);
  process.exit(code);
};
const describe = (error) => {
  if (error === undefined) return null;
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  try {
    return JSON.parse(JSON.stringify(error));
  } catch {
    return String(error);
  }
};

// A failure guard only: the test never depends on how fast anything is.
const deadline = setTimeout(() => fail(3, 'deadline passed', new Error(`no result within ${timeoutText} ms`)), Number(timeoutText));

// --- instrumentation: Node 20 has no global WebSocket, so Amplify gets `ws`, which also logs every frame ---

const wireListeners = new Set(); // called with every received frame ({type, …}) and with 'closed'

class LoggingWebSocket extends WebSocket {
  constructor(url, protocols, options) {
    super(url, protocols, options);
    wire({ kind: 'open', url: String(url), protocols });
    this.addEventListener('open', () => wire({ kind: 'opened', protocol: this.protocol }));
    this.addEventListener('message', (event) => {
      const frame = parse(event.data);
      wire({ kind: 'recv', frame });
      for (const listener of wireListeners) listener(frame);
    });
    this.addEventListener('close', (event) => {
      wire({ kind: 'close', code: event.code, reason: event.reason });
      for (const listener of wireListeners) listener('closed');
    });
    this.addEventListener('error', (event) => wire({ kind: 'error', message: event.message }));
  }

  send(data, ...rest) {
    wire({ kind: 'send', frame: parse(data) });
    return super.send(data, ...rest);
  }
}
globalThis.WebSocket = LoggingWebSocket;

const parse = (data) => {
  try {
    return JSON.parse(String(data));
  } catch {
    return String(data);
  }
};

// Queries and mutations go over fetch: log what Amplify sends (headers, body) and gets (status).
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  wire({
    kind: 'http',
    method: init.method ?? input.method ?? 'GET',
    url: String(input.url ?? input),
    headers: Object.fromEntries(new Headers(init.headers ?? input.headers).entries()),
    body: parse(init.body ?? ''),
  });
  let response;
  try {
    response = await realFetch(input, init);
  } catch (error) {
    // Amplify only says "A network error has occurred."; the cause (e.g. an untrusted certificate) is here
    wire({ kind: 'http-error', message: error.message, cause: error.cause?.code ?? String(error.cause ?? '') });
    throw error;
  }
  wire({ kind: 'http-response', status: response.status, contentType: response.headers.get('content-type') });
  return response;
};

// --- the app, as an Amplify user writes it ---

const FILE_FIELDS = `id name size contentType status error createdAt uploadedAt hashedAt
  hashes { md5 sha1 sha256 sha512 }`;
const requestUpload = /* GraphQL */ `
  mutation RequestUpload($input: RequestUploadInput!) {
    requestUpload(input: $input) {
      file { ${FILE_FIELDS} }
      expiresAt url method headers uploadId
    }
  }`;
const onFileHashed = /* GraphQL */ `
  subscription OnFileHashed($id: ID) {
    onFileHashed(id: $id) { ${FILE_FIELDS} }
  }`;
const getFile = /* GraphQL */ `
  query GetFile($id: ID!) {
    file(id: $id) { ${FILE_FIELDS} }
  }`;

// Where the local user pool is, as the web app learns it (fetched outside the wire log: not Amplify's own call).
const poolConfig = authMode === 'userPool' ? await (await realFetch(new URL('/config.json', endpoint))).json() : null;
Amplify.configure({
  ...(poolConfig && {
    Auth: {
      Cognito: {
        userPoolId: poolConfig.userPoolId,
        userPoolClientId: poolConfig.userPoolClientId,
        userPoolEndpoint: poolConfig.userPoolEndpoint,
      },
    },
  }),
  API: {
    GraphQL: { endpoint, region: 'us-east-1', defaultAuthMode: authMode, ...(authMode === 'apiKey' && { apiKey }) },
  },
});
const client = generateClient();

// A new account, signed up and signed in the way an app does it with Amplify Auth.
async function signUpAndIn() {
  const username = `amplify-${Date.now()}-${process.pid}@example.com`;
  const password = process.env.LAMBDASHARE_PASSWORD;
  const signedUp = await signUp({ username, password, options: { userAttributes: { email: username } } });
  const signedIn = await signIn({ username, password }); // Amplify's default flow: USER_SRP_AUTH
  const { tokens } = await fetchAuthSession();
  const refreshed = await fetchAuthSession({ forceRefresh: true }); // Amplify's refresh: GetTokensFromRefreshToken
  emit({
    step: 'signedIn',
    signedIn: {
      username,
      isSignUpComplete: signedUp.isSignUpComplete,
      userId: signedUp.userId,
      isSignedIn: signedIn.isSignedIn,
      signInStep: signedIn.nextStep.signInStep,
      sub: tokens.accessToken.payload.sub,
      email: tokens.idToken.payload.email,
      refreshedSub: refreshed.tokens.accessToken.payload.sub,
      refreshedNewToken: refreshed.tokens.accessToken.toString() !== tokens.accessToken.toString(),
    },
  });
}

async function main() {
  if (authMode === 'userPool') await signUpAndIn();

  // The mutation, over HTTPS.
  const requested = await client.graphql({
    query: requestUpload,
    variables: { input: { name: 'amplify.bin', size: Number(sizeText), contentType: 'application/octet-stream' } },
  });
  const ticket = requested.data.requestUpload;
  const fileId = ticket.file.id;

  // The subscription, over wss://…/graphql/realtime. It is live once the server sends start_ack,
  // which Amplify announces on the Hub 'api' channel as 'Subscription ack'.
  let subscriptionId; // Amplify's UUID for it, as echoed in start_ack
  let resolveAck;
  const acknowledged = new Promise((resolve) => (resolveAck = resolve));
  const stopListening = Hub.listen('api', ({ payload }) => {
    if (payload.event === 'Subscription ack' && payload.data?.variables?.id === fileId) {
      subscriptionId = payload.data.id;
      resolveAck();
    }
  });
  let resolveEvent;
  let rejectEvent;
  const received = new Promise((resolve, reject) => ((resolveEvent = resolve), (rejectEvent = reject)));
  const subscription = client.graphql({ query: onFileHashed, variables: { id: fileId } }).subscribe({
    next: ({ data }) => resolveEvent(data.onFileHashed),
    error: (error) => rejectEvent(error),
  });
  await Promise.race([acknowledged, received]);
  stopListening();
  emit({ step: 'ticket', ticket });

  // The test now PUTs the bytes; the hasher publishes publishFileHashed; we are told.
  const event = await received;
  emit({ step: 'event', event });

  // The query, over HTTPS.
  const found = await client.graphql({ query: getFile, variables: { id: fileId } });
  emit({ step: 'file', file: found.data.file });

  // Unsubscribe: Amplify sends `stop`; note whether `complete` comes back before the socket closes
  // (Amplify closes it about a second after the last subscription is gone).
  const completed = new Promise((resolve) => {
    wireListeners.add((frame) => {
      if (frame === 'closed') resolve(false);
      else if (frame?.type === 'complete' && frame.id === subscriptionId) resolve(true);
    });
  });
  subscription.unsubscribe();
  emit({ step: 'stopped', complete: await completed });
}

main().then(
  () => {
    clearTimeout(deadline);
    process.exit(0);
  },
  (error) => fail(1, 'amplify client error', error),
);
