// A Sigstore double for the tests: Fulcio (v2 signingCert), Rekor v1 (log entries) and
// the trust material, served over loopback from the pure handlers of npm
// `@sigstore/mock` 0.13.0 (which on its own only installs in-process interceptors).
//
//   node tests/doubles/sigstore/server.js [port]     (0 or none: any free port)
//
// Prints one JSON line, {"port": N, "url": "http://127.0.0.1:N"}, once listening.
//
// What it adds to the mock, so it behaves as the real services do where our client
// depends on it:
// * Rekor `dsse` entries are sent as real Rekor takes them (`proposedContent`: the
//   envelope and its verifiers) and canonicalised as real Rekor stores them
//   (`envelopeHash`, `payloadHash`, `signatures[{signature, verifier}]`); the mock
//   itself would log the proposed form, which no verifier accepts.
// * GET /api/v1/log (Rekor v1's log info: the tree of the latest entry, as the mock
//   proves it), which clients such as chainseal read to tell Rekor v1 from v2.
// * GET /api/v1/log/publicKey, /api/v1/rootCert, /api/v2/trustBundle, /trusted_root.json
//   (a sigstore TrustedRoot) and /client_trust_config.json (what
//   `sigstore --trust-config` takes).
// * An entry sent twice is refused as real Rekor refuses it: 409 with the existing
//   entry's `Location` (/api/v1/log/entries/<uuid>), which GET then serves.
// * Strict checks, as the real services make them (strict.js says which, with the
//   status codes and bodies they answer): Fulcio takes only identity tokens signed by
//   their issuer's key (issuer's JWKS: the test key oidc-issuer-test-key.pem for the
//   public issuers it knows, OIDC discovery for loopback issuers), unexpired, with
//   audience `sigstore`, and a proof of possession that verifies with the submitted
//   key; Rekor logs only well-formed `dsse`/`hashedrekord` v0.0.1 entries whose
//   signatures verify with the given key or certificate. Refusal reasons go to stderr.
// * Fulcio certifies what real Fulcio certifies for a GitHub Actions token (issuer type
//   `github-workflow`: token.actions.githubusercontent.com and the loopback issuers):
//   the SAN is `https://github.com/` + the token's `job_workflow_ref` (Fulcio's
//   `subject-alternative-name-template`), not its `sub`; the mock alone certifies `sub`.
//   The GitHub extensions `gh attestation verify` checks (issuer, source repository
//   URI and owner URI, build signer URI and digest, build config URI, runner
//   environment, ...) come from the mock's claim mapping, which follows Fulcio's
//   `extension-templates`. A token without `job_workflow_ref`, which real Fulcio
//   refuses, is certified for its `sub` (strict.js `subjectAlternativeName`).
// * Faults for the bad-input tests: POST /__faults {"fulcio": "refuse"} makes Fulcio
//   answer 401 as an authenticating proxy in front of it would; {"rekor": "error"}
//   makes Rekor answer 500; {"rekor": "tamper"} flips a bit of each entry's signature
//   on arrival (a corrupting hop), so Rekor's own check refuses it; {} clears them.
// * Fulcio takes the identity token from `Authorization: Bearer` too, as its HTTP
//   gateway does (cosign 3 / sigstore-go send it there, not in `credentials`), and
//   answers a certificate with 200 as Fulcio v2 does (the mock says 201, which
//   sigstore-go refuses: "Fulcio returned 201"); a new Rekor entry comes with its
//   uuid in `ETag` and `Location`, as Rekor sends it (sigstore-go reads `ETag`).
// * A Rekor v2 under the prefix /v2 (POST /v2/api/v2/log/entries: the mock's v2
//   handler, the same log key; /v2/api/v1/log answers 404 as rekor-tiles does), for
//   the benchmarks: the real Rekor v2 (tests/it/sigstore_v2.rs) takes about 0.8 s to
//   integrate each entry, which would hide the client's own cost.
// * A request log: GET /__requests lists [method, path, body] of every request.
const http = require('http');
const crypto = require('crypto');
const m = require('@sigstore/mock');
const { generateKeyPair } = require('@sigstore/mock/dist/util/key');
const jose = require('jose');
const strict = require('./strict');

const b64 = (b) => Buffer.from(b).toString('base64');
const pem = (der, label) =>
  `-----BEGIN ${label}-----\n${b64(der).match(/.{1,64}/g).join('\n')}\n-----END ${label}-----\n`;
const sha256 = (data) => crypto.createHash('sha256').update(data).digest();

// Real Rekor's canonical form of a `dsse` v0.0.1 entry, from the proposed one.
function canonicalDsse(entry) {
  const proposed = entry.spec && entry.spec.proposedContent;
  if (!proposed) return entry;
  const envelopeText = proposed.envelope;
  const envelope = JSON.parse(envelopeText);
  const payload = Buffer.from(envelope.payload, 'base64');
  return {
    apiVersion: entry.apiVersion,
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256(envelopeText).toString('hex') },
      payloadHash: { algorithm: 'sha256', value: sha256(payload).toString('hex') },
      signatures: envelope.signatures.map((s, i) => ({
        signature: s.sig,
        verifier: proposed.verifiers[Math.min(i, proposed.verifiers.length - 1)],
      })),
    },
  };
}

// The mock certifies the claim its `subjectClaim` option names (it decodes the token
// without checking it: strict.js has checked it already). The token handed to it
// carries the SAN Fulcio would certify (strict.js `subjectAlternativeName`) in this
// claim, which no extension reads.
const SAN_CLAIM = 'chainseal_double_san';
function withSan(text, san) {
  const request = JSON.parse(text);
  const [header, payload, signature] = request.credentials.oidcIdentityToken.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
  claims[SAN_CLAIM] = san;
  const encoded = Buffer.from(JSON.stringify(claims)).toString('base64url');
  request.credentials.oidcIdentityToken = [header, encoded, signature].join('.');
  return JSON.stringify(request);
}

// Fulcio's HTTP gateway takes the identity token from `Authorization: Bearer` when the
// body has no `credentials` (fulcio cmd/app/http.go, pkg/server/grpc_server.go), which
// is how sigstore-go (cosign 3) sends it: the body, with the header's token put where
// the handlers read it.
function withBearerToken(body, authorization) {
  const token = String(authorization || '').replace(/^Bearer /, '');
  if (!token) return body;
  let request;
  try {
    request = JSON.parse(body);
  } catch (e) {
    return body;
  }
  if (request?.credentials?.oidcIdentityToken) return body;
  return JSON.stringify({ ...request, credentials: { oidcIdentityToken: token } });
}

(async () => {
  const server = http.createServer();
  await new Promise((ok) => server.listen(Number(process.argv[2] || 0), '127.0.0.1', ok));
  const port = server.address().port;
  const base = `http://127.0.0.1:${port}`;
  const start = new Date(Date.now() - 60_000).toISOString();
  const caKeys = generateKeyPair('prime256v1');
  const ctlog = await m.initializeCTLog(caKeys);
  const ca = await m.initializeCA(caKeys, ctlog);
  const tlog = await m.initializeTLog(base, generateKeyPair('prime256v1'));
  const fulcio = m.fulcioHandler(ca, { strict: true, subjectClaim: SAN_CLAIM }).fn;
  const rekor = m.rekorHandler(tlog, { strict: true }).fn;
  const rekorV2 = m.rekorV2Handler(tlog, { strict: true }).fn;
  const rootDer = Buffer.from(
    ca.rootCertificate.buffer,
    ca.rootCertificate.byteOffset,
    ca.rootCertificate.byteLength,
  );
  const rekorPub = Buffer.from(tlog.publicKey);
  const logKey = (pub) => ({
    baseUrl: base,
    hashAlgorithm: 'SHA2_256',
    publicKey: { rawBytes: b64(pub), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
    logId: { keyId: b64(sha256(pub)) },
  });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [logKey(rekorPub)],
    ctlogs: [logKey(Buffer.from(ctlog.publicKey))],
    timestampAuthorities: [],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: base,
        certChain: { certificates: [{ rawBytes: b64(rootDer) }] },
        validFor: { start },
      },
    ],
  };
  const clientTrustConfig = {
    mediaType: 'application/vnd.dev.sigstore.clienttrustconfig.v0.1+json',
    trustedRoot,
    signingConfig: {
      mediaType: 'application/vnd.dev.sigstore.signingconfig.v0.2+json',
      caUrls: [{ url: base, majorApiVersion: 1, validFor: { start }, operator: 'mock' }],
      oidcUrls: [],
      rekorTlogUrls: [{ url: base, majorApiVersion: 1, validFor: { start }, operator: 'mock' }],
      tsaUrls: [],
      rekorTlogConfig: { selector: 'ANY' },
      tsaConfig: { selector: 'ANY' },
    },
  };
  const gets = {
    '/api/v1/log/publicKey': ['application/x-pem-file', pem(rekorPub, 'PUBLIC KEY')],
    '/api/v2/trustBundle': [
      'application/json',
      JSON.stringify({ chains: [{ certificates: [pem(rootDer, 'CERTIFICATE')] }] }),
    ],
    '/api/v1/rootCert': ['application/x-pem-file', pem(rootDer, 'CERTIFICATE')],
    '/trusted_root.json': ['application/json', JSON.stringify(trustedRoot, null, 2)],
    '/client_trust_config.json': ['application/json', JSON.stringify(clientTrustConfig, null, 2)],
    '/healthz': ['text/plain', 'ok'],
  };
  const jwks = jose.createLocalJWKSet(strict.pinnedJwks());
  const log = (line) => process.stderr.write(`sigstore double: ${line}\n`);
  let faults = {};
  const requests = [];
  const logged = new Map(); // canonical entry -> [uuid, reply]
  const reply = (res, code, type, body) => {
    res.writeHead(code, { 'Content-Type': type });
    res.end(body);
  };
  server.on('request', (req, res) => {
    const path = req.url.split('?')[0];
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks).toString();
      if (!path.startsWith('/__')) requests.push([req.method, path, body]);
      if (req.method === 'GET' && path === '/__requests') {
        return reply(res, 200, 'application/json', JSON.stringify(requests));
      }
      if (req.method === 'POST' && path === '/__faults') {
        faults = JSON.parse(body || '{}');
        return reply(res, 200, 'application/json', '{}');
      }
      if (req.method === 'GET' && gets[path]) return reply(res, 200, gets[path][0], gets[path][1]);
      if (req.method === 'GET' && path === '/api/v1/log') {
        const latest = [...logged.values()].pop();
        const proof = latest && Object.values(JSON.parse(latest[1]))[0].verification.inclusionProof;
        return reply(res, 200, 'application/json', JSON.stringify({
          rootHash: proof ? proof.rootHash : sha256('').toString('hex'),
          treeSize: proof ? proof.treeSize : 0,
          signedTreeHead: proof ? proof.checkpoint : '',
          treeID: '1',
          inactiveShards: [],
        }));
      }
      const existing = path.match(/^\/api\/v1\/log\/entries\/([0-9a-f]+)$/);
      if (req.method === 'GET' && existing) {
        const found = [...logged.values()].find(([uuid]) => uuid === existing[1]);
        return found
          ? reply(res, 200, 'application/json', found[1])
          : reply(res, 404, 'application/json', JSON.stringify({ code: 404, message: 'not found' }));
      }
      if (req.method !== 'POST') return reply(res, 404, 'text/plain', 'not found');
      try {
        if (path === '/api/v2/signingCert') {
          if (faults.fulcio === 'refuse') {
            return reply(res, 401, 'application/json',
              JSON.stringify({ code: 16, message: 'There was an error processing the identity token' }));
          }
          const request = withBearerToken(body, req.headers.authorization);
          const { refused, san } = await strict.checkSigningCertRequest(request, jwks, log);
          if (refused) return reply(res, refused.status, 'application/json', JSON.stringify(refused.body));
          const r = await fulcio(withSan(request, san));
          // Fulcio v2 answers 200 (its gRPC gateway's default; only the v1 API sets
          // 201), and sigstore-go takes nothing else; the mock says 201.
          const status = r.statusCode === 201 ? 200 : r.statusCode;
          return reply(res, status, r.contentType || 'application/json', r.response);
        }
        if (path === '/v2/api/v2/log/entries') {
          const r = await rekorV2(body);
          return reply(res, r.statusCode, r.contentType || 'application/json', r.response);
        }
        if (path === '/api/v1/log/entries') {
          if (faults.rekor === 'error') {
            return reply(res, 500, 'application/json', JSON.stringify({ code: 500, message: 'injected fault' }));
          }
          let entry = JSON.parse(body);
          if (faults.rekor === 'tamper') entry = strict.tamper(entry);
          const refused = strict.checkProposedEntry(entry);
          if (refused) {
            log(`Rekor refused an entry: ${refused.body.message}`);
            return reply(res, refused.status, 'application/json', JSON.stringify(refused.body));
          }
          if (entry.kind === 'dsse') entry = canonicalDsse(entry);
          const canonical = JSON.stringify(entry);
          if (logged.has(canonical)) {
            const [uuid] = logged.get(canonical);
            res.writeHead(409, { 'Content-Type': 'application/json', Location: `/api/v1/log/entries/${uuid}` });
            return res.end(JSON.stringify({
              code: 409,
              message: `an equivalent entry already exists in the transparency log with UUID ${uuid}`,
            }));
          }
          const r = await rekor(canonical);
          if (r.statusCode === 201) {
            const text = Buffer.from(r.response).toString();
            const uuid = Object.keys(JSON.parse(text))[0];
            logged.set(canonical, [uuid, text]);
            // Rekor names the new entry in `ETag` and `Location`; sigstore-go reads the
            // entry by its ETag.
            res.writeHead(201, {
              'Content-Type': r.contentType || 'application/json',
              ETag: uuid,
              Location: `/api/v1/log/entries/${uuid}`,
            });
            return res.end(r.response);
          }
          return reply(res, r.statusCode, r.contentType || 'application/json', r.response);
        }
      } catch (e) {
        return reply(res, 400, 'application/json', JSON.stringify({ code: 400, message: String(e) }));
      }
      return reply(res, 404, 'text/plain', 'not found');
    });
  });
  console.log(JSON.stringify({ port, url: base }));
})();
