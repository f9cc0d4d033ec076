// The Node reference the benchmarks measure ours against: @aws-amplify/amplify-appsync-simulator (Amplify's
// mock), serving our schema.graphql with NONE resolvers: `file(id)` hands back a fixed file without reading
// anything, `publishFileHashed` hands its input back (AppSync's fan-out to onFileHashed, as ours).
//
//   node bench/reference_emulator.mjs <port> <api-key>
// Prints "ready <url>" once it listens; stops on SIGTERM.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AmplifyAppSyncSimulator } from '@aws-amplify/amplify-appsync-simulator';

const [port, apiKey] = process.argv.slice(2);
const schema = readFileSync(fileURLToPath(new URL('../schema.graphql', import.meta.url)), 'utf8');

const FILE = JSON.stringify({
  name: 'bench.bin',
  size: 3,
  status: 'HASHED',
  hashes: { md5: '900150983cd24fb0d6963f7d28e17f72', sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
  createdAt: '2026-01-01T00:00:00.000Z',
});
const templates = [
  {
    path: 'file.req.vtl',
    content: `{"version": "2018-05-29", "payload": ${FILE.slice(0, -1)}, "id": $util.toJson($ctx.args.id)}}`,
  },
  { path: 'publish.req.vtl', content: '{"version": "2018-05-29", "payload": $util.toJson($ctx.args.input)}' },
  { path: 'result.res.vtl', content: '$util.toJson($ctx.result)' },
];
const none = (typeName, fieldName, request) => ({
  kind: 'UNIT',
  typeName,
  fieldName,
  dataSourceName: 'None',
  requestMappingTemplateLocation: request,
  responseMappingTemplateLocation: 'result.res.vtl',
});

const simulator = new AmplifyAppSyncSimulator({ port: Number(port), wsPort: Number(port) });
await simulator.start();
simulator.init({
  appSync: {
    name: 'lambdashare-reference',
    apiKey,
    defaultAuthenticationType: { authenticationType: 'API_KEY' },
    additionalAuthenticationProviders: [
      { authenticationType: 'AWS_IAM' },
      { authenticationType: 'AMAZON_COGNITO_USER_POOLS', cognitoUserPoolConfig: {} },
    ],
  },
  schema: { content: schema },
  mappingTemplates: templates,
  dataSources: [{ type: 'NONE', name: 'None' }],
  resolvers: [none('Query', 'file', 'file.req.vtl'), none('Mutation', 'publishFileHashed', 'publish.req.vtl')],
});
console.log(`ready http://127.0.0.1:${port}`);
process.on('SIGTERM', async () => {
  await simulator.stop();
  process.exit(0);
});
