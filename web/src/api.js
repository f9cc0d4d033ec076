// GraphQL over HTTP, with whichever credential the session holds (see session.js).
import { authHeaders, config } from "./session.js";

export class GraphQLError extends Error {}

export async function gql(query, variables = {}) {
  const response = await fetch(config().graphqlUrl, {
    method: "POST",
    headers: { "content-type": "application/json", ...(await authHeaders()) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json().catch(() => ({}));
  if (body && Array.isArray(body.errors) && body.errors.length) {
    throw new GraphQLError(body.errors.map((e) => e.message || e.errorType).join("; "));
  }
  if (!response.ok) throw new GraphQLError(`HTTP ${response.status}`);
  return body.data;
}

export function errorText(payload) {
  const errors = (payload && Array.isArray(payload.errors) && payload.errors) || [];
  return errors.map((e) => e.message || e.errorType).join("; ") || "unknown error";
}

const FILE_FIELDS = "id name size status contentType createdAt hashedAt hashes { md5 sha1 sha256 sha512 } error";

export const Q = {
  requestUpload: `mutation RequestUpload($input: RequestUploadInput!) {
    requestUpload(input: $input) { file { id } url method headers uploadId parts { number url method headers } } }`,
  resumeUpload: `mutation ResumeUpload($id: ID!) {
    resumeUpload(id: $id) { file { id } parts { number url method headers } } }`,
  uploadedParts: "query UploadedParts($id: ID!) { uploadedParts(id: $id) { number etag size } }",
  completeUpload: "mutation CompleteUpload($input: CompleteUploadInput!) { completeUpload(input: $input) { id } }",
  abortUpload: "mutation AbortUpload($id: ID!) { abortUpload(id: $id) { id } }",
  onFileHashed: `subscription OnFileHashed($id: ID) { onFileHashed(id: $id) { ${FILE_FIELDS} } }`,
  onFileProgress: "subscription OnFileProgress($id: ID!) { onFileProgress(id: $id) { id hashedBytes size } }",
  duplicateCount: "query DuplicateCount($sha256: String!) { duplicateCount(sha256: $sha256) }",
  filesByHash: "query FilesByHash($sha256: String!) { filesByHash(sha256: $sha256) { id name } }",
  file: `query File($id: ID!) { file(id: $id) { ${FILE_FIELDS} downloadUrl } }`,
  files: `query Files($limit: Int, $nextToken: String) {
    files(limit: $limit, nextToken: $nextToken) { items { ${FILE_FIELDS} downloadUrl } nextToken } }`,
  downloadUrl: "query DownloadUrl($id: ID!) { file(id: $id) { downloadUrl } }",
  deleteFile: "mutation DeleteFile($id: ID!) { deleteFile(id: $id) { id } }",
  shareFile: "mutation ShareFile($id: ID!, $expiresIn: Int) { shareFile(id: $id, expiresIn: $expiresIn) { token expiresAt } }",
  revokeShare: "mutation RevokeShare($token: String!) { revokeShare(token: $token) }",
  sharedFile: `query SharedFile($token: String!) { sharedFile(token: $token) { ${FILE_FIELDS} downloadUrl } }`,
  stats: `query Stats($days: Int) { stats(days: $days) {
    uploads bytes hashed failed duplicates deleted days { date uploads bytes } } }`,
};
