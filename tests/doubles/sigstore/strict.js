// The checks real Fulcio and Rekor make before they certify or log anything, for the
// Sigstore double (server.js). Each refusal has the status and body the real service
// sends, read from their sources:
//
// * Fulcio v2 (`pkg/server/grpc_server.go`, `pkg/server/error.go`; grpc-gateway turns
//   the gRPC status into HTTP): every identity-token failure (unknown issuer, bad
//   signature, expired, wrong audience) is InvalidArgument → 400
//   `{"code": 3, "message": "There was an error processing the identity token",
//   "details": []}`; an unparsable public key → 400 "The public key supplied in the
//   request could not be parsed"; a proof of possession that does not verify → 400
//   "The signature supplied in the request could not be verified". Fulcio checks the
//   token against its issuer's JWKS (OIDC discovery) and the audience `sigstore`; the
//   proof of possession signs the email (email issuers) or the subject.
// * Rekor v1 (`pkg/api/entries.go`, `pkg/api/error.go`, `pkg/types/*`): an unknown kind
//   is refused by the API layer, 422 `{"code": 422, "message": "invalid kind value:
//   \"…\""}`; everything else is 400 `{"code": 400, "message": "error processing
//   entry: …"}`: an unsupported apiVersion, malformed base64, a key that does not
//   parse, a signature that does not verify (`dsse`: every envelope signature by some
//   verifier over the PAE; `hashedrekord`: the signature over the artifact digest).
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const jose = require('jose');

/// The test issuers' signing key (tests sign tokens with it: tests/it/common/mod.rs).
const TEST_ISSUER_KEY = path.join(__dirname, 'oidc-issuer-test-key.pem');
const TEST_KID = 'chainseal-test-issuer';

/// Fulcio's issuer configuration: issuer URL → type (the type says what the proof of
/// possession signs). The double cannot reach these issuers, so their JWKS is pinned to
/// the test key's public half, as if discovery had returned it.
const PINNED_ISSUERS = {
  'https://token.actions.githubusercontent.com': 'github-workflow',
  'https://gitlab.com': 'gitlab-pipeline',
  'https://kubernetes.default.svc': 'kubernetes',
  'https://accounts.google.com': 'email',
};

/// A meta issuer (Fulcio's `MetaIssuers`): any loopback issuer, whose JWKS is found by
/// OIDC discovery as Fulcio finds every issuer's (tests/doubles/github_oidc.py).
const LOOPBACK_ISSUER = /^http:\/\/127\.0\.0\.1:\d+(\/[^?#]*)?$/;

const fulcioRefusal = (message) => ({
  status: 400,
  body: { code: 3, message, details: [] },
});
const INVALID_TOKEN = 'There was an error processing the identity token';
const INVALID_KEY = 'The public key supplied in the request could not be parsed';
const INVALID_SIGNATURE = 'The signature supplied in the request could not be verified';

/// The JWKS the double publishes for the pinned issuers (the test key's public half).
function pinnedJwks() {
  const key = crypto.createPublicKey(fs.readFileSync(TEST_ISSUER_KEY));
  return { keys: [{ ...key.export({ format: 'jwk' }), kid: TEST_KID, alg: 'RS256', use: 'sig' }] };
}

/// The key set of issuer `iss` found by OIDC discovery, checking the discovery
/// document names the same issuer (as go-oidc does).
async function discover(iss) {
  const res = await fetch(`${iss.replace(/\/$/, '')}/.well-known/openid-configuration`);
  if (!res.ok) throw new Error(`discovery at ${iss}: HTTP ${res.status}`);
  const doc = await res.json();
  if (doc.issuer !== iss) throw new Error(`issuer did not match: ${doc.issuer} != ${iss}`);
  return jose.createRemoteJWKSet(new URL(doc.jwks_uri));
}

/// Fulcio's identity check: the token's issuer is one it trusts, the signature verifies
/// with that issuer's keys, it is not expired and its audience is `sigstore`. Returns
/// `{challenge, san}`: what the proof of possession must sign and the URI Fulcio
/// certifies; throws with the reason (logged, not sent).
async function authenticate(token, jwks) {
  const { iss } = jose.decodeJwt(token);
  let keys;
  let type;
  if (PINNED_ISSUERS[iss]) {
    keys = jwks;
    type = PINNED_ISSUERS[iss];
  } else if (typeof iss === 'string' && LOOPBACK_ISSUER.test(iss)) {
    keys = await discover(iss);
    type = 'github-workflow';
  } else {
    throw new Error(`failed to match issuer URL ${iss} from token with any configured providers`);
  }
  const { payload } = await jose.jwtVerify(token, keys, {
    issuer: iss,
    audience: 'sigstore',
    algorithms: ['RS256'],
  });
  if (type === 'email') {
    if (!payload.email || payload.email_verified !== true) throw new Error('email not verified');
    return { challenge: payload.email, san: payload.sub };
  }
  if (!payload.sub) throw new Error('no subject');
  return { challenge: payload.sub, san: subjectAlternativeName(type, payload) };
}

/// The URI Fulcio certifies for a token. A `github-workflow` token names the workflow
/// that signs: Fulcio's `subject-alternative-name-template` for GitHub is
/// `{{ .url }}/{{ .job_workflow_ref }}` (config/identity/config.yaml), so the SAN is
/// `https://github.com/<owner>/<repo>/<path>@<ref>` of the job's (reusable) workflow,
/// not the token's `sub`. A token without `job_workflow_ref` (real Fulcio refuses it:
/// the template's key is missing) is certified for its `sub`, a leniency of the
/// double that lets tests mint minimal tokens. A `kubernetes` token (a ServiceAccount's)
/// is certified as Fulcio's kubernetes principal certifies it,
/// `https://kubernetes.io/namespaces/<ns>/serviceaccounts/<name>` from its
/// `kubernetes.io` claim (without that claim, its `sub`: the same leniency). Other
/// issuers: the `sub`.
function subjectAlternativeName(type, claims) {
  if (type === 'github-workflow' && typeof claims.job_workflow_ref === 'string' && claims.job_workflow_ref) {
    return `https://github.com/${claims.job_workflow_ref}`;
  }
  const k8s = claims['kubernetes.io'];
  if (type === 'kubernetes' && k8s && typeof k8s.namespace === 'string' && typeof k8s.serviceaccount?.name === 'string') {
    return `https://kubernetes.io/namespaces/${k8s.namespace}/serviceaccounts/${k8s.serviceaccount.name}`;
  }
  return claims.sub;
}

/// Check a `POST /api/v2/signingCert` body as Fulcio does: `{san}` (the URI to
/// certify) when it may be certified, else `{refused}` (the refusal `{status, body}`).
async function checkSigningCertRequest(text, jwks, log) {
  const refuse = (message) => ({ refused: fulcioRefusal(message) });
  let request;
  try {
    request = JSON.parse(text);
  } catch (e) {
    return refuse(`invalid character in request body: ${e.message}`);
  }
  let challenge;
  let san;
  try {
    ({ challenge, san } = await authenticate(String(request?.credentials?.oidcIdentityToken || ''), jwks));
  } catch (e) {
    log(`Fulcio refused the identity token: ${e.code || ''} ${e.message}`);
    return refuse(INVALID_TOKEN);
  }
  const keyRequest = request.publicKeyRequest;
  if (!keyRequest) return refuse('the double takes only publicKeyRequest (no CSR)');
  let key;
  try {
    key = crypto.createPublicKey(String(keyRequest?.publicKey?.content || ''));
  } catch (e) {
    return refuse(INVALID_KEY);
  }
  const proof = decodeBase64(String(keyRequest.proofOfPossession || ''));
  let ok = false;
  try {
    ok = proof !== null && crypto.verify('sha256', Buffer.from(challenge), key, proof);
  } catch (e) {
    ok = false;
  }
  if (!ok) {
    log('Fulcio refused the proof of possession');
    return refuse(INVALID_SIGNATURE);
  }
  return { san };
}

/// Strict standard base64 (Go's StdEncoding): the bytes, or null.
function decodeBase64(text) {
  if (typeof text !== 'string' || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    return null;
  }
  return Buffer.from(text, 'base64');
}

/// Go's message for bad base64: the first offending byte.
function base64Error(text) {
  const s = String(text);
  const bad = s.search(/[^A-Za-z0-9+/=]/);
  return `illegal base64 data at input byte ${bad >= 0 ? bad : s.length}`;
}

class EntryError extends Error {}

/// A public key from base64 PEM (a key or a certificate), as Rekor's x509.NewPublicKey.
function verifierKey(b64, what) {
  const pem = decodeBase64(b64);
  if (pem === null) throw new EntryError(`failed parsing base64 data for ${what}: ${base64Error(b64)}`);
  try {
    const text = pem.toString();
    return text.includes('BEGIN CERTIFICATE')
      ? new crypto.X509Certificate(text).publicKey
      : crypto.createPublicKey(text);
  } catch (e) {
    throw new EntryError(`could not parse public key as x509: ${e.message}`);
  }
}

/// DSSE pre-authentication encoding.
function pae(type, payload) {
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${payload.length} `),
    payload,
  ]);
}

/// A signature over `message` (SHA-256 for ECDSA and RSA, as Rekor's LoadVerifier).
function verifies(key, message, signature) {
  try {
    const hash = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
    return crypto.verify(hash, message, key, signature);
  } catch (e) {
    return false;
  }
}

function checkDsse(spec) {
  const proposed = spec.proposedContent;
  if (!proposed) {
    throw new EntryError('either proposedContent or envelopeHash, payloadHash, and signatures must be present');
  }
  if (typeof proposed.envelope !== 'string') throw new EntryError('proposed content envelope is missing');
  let envelope;
  try {
    envelope = JSON.parse(proposed.envelope);
  } catch (e) {
    throw new EntryError(e.message);
  }
  const sigs = envelope.signatures || [];
  if (sigs.length === 0) throw new EntryError('DSSE envelope must contain 1 or more signatures');
  const payload = decodeBase64(envelope.payload);
  if (payload === null) throw new EntryError(`payload: ${base64Error(envelope.payload)}`);
  const message = pae(String(envelope.payloadType || ''), payload);
  const keys = (proposed.verifiers || []).map((v) => verifierKey(v, 'verifier'));
  for (const s of sigs) {
    const sig = decodeBase64(s.sig);
    if (sig === null || !keys.some((k) => verifies(k, message, sig))) {
      throw new EntryError(
        'could not verify envelope: accepted signatures do not match threshold, Found: 0, Expected 1',
      );
    }
  }
}

// ---- Prehashed signatures (hashedrekord signs the artifact digest) ----

const CURVES = {
  'P-256': {
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
  },
  'P-384': {
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
  },
};

const mod = (a, m) => ((a % m) + m) % m;
function inverse(a, m) {
  let [r0, r1, s0, s1] = [mod(a, m), m, 1n, 0n];
  while (r1) {
    const q = r0 / r1;
    [r0, r1, s0, s1] = [r1, r0 - q * r1, s1, s0 - q * s1];
  }
  return mod(s0, m);
}
function add(P, Q, c) {
  if (!P) return Q;
  if (!Q) return P;
  let l;
  if (P.x === Q.x) {
    if (mod(P.y + Q.y, c.p) === 0n) return null;
    l = mod((3n * P.x * P.x - 3n) * inverse(2n * P.y, c.p), c.p); // a = -3
  } else {
    l = mod((Q.y - P.y) * inverse(Q.x - P.x, c.p), c.p);
  }
  const x = mod(l * l - P.x - Q.x, c.p);
  return { x, y: mod(l * (P.x - x) - P.y, c.p) };
}
function multiply(k, P, c) {
  let [R, A] = [null, P];
  for (; k > 0n; k >>= 1n) {
    if (k & 1n) R = add(R, A, c);
    A = add(A, A, c);
  }
  return R;
}
const big = (buf) => BigInt(`0x${Buffer.from(buf).toString('hex') || '0'}`);

/// r and s of a DER ECDSA signature, or null.
function derSignature(der) {
  let i = 0;
  const length = () => {
    let n = der[i++];
    if (n & 0x80) {
      let len = 0;
      for (let k = n & 0x7f; k > 0; k--) len = len * 256 + der[i++];
      n = len;
    }
    return n;
  };
  if (der[i++] !== 0x30) return null;
  if (length() + i !== der.length) return null;
  const ints = [];
  for (let k = 0; k < 2; k++) {
    if (der[i++] !== 0x02) return null;
    const n = length();
    ints.push(big(der.subarray(i, i + n)));
    i += n;
  }
  return i === der.length ? ints : null;
}

/// ECDSA verification of `signature` over `digest` itself.
function ecdsaVerifiesDigest(key, digest, signature) {
  const jwk = key.export({ format: 'jwk' });
  const c = CURVES[jwk.crv];
  const rs = c && derSignature(signature);
  if (!rs) return false;
  const [r, s] = rs;
  if (r <= 0n || s <= 0n || r >= c.n || s >= c.n) return false;
  const nBits = c.n.toString(2).length;
  let e = big(digest);
  if (digest.length * 8 > nBits) e >>= BigInt(digest.length * 8 - nBits);
  const w = inverse(s, c.n);
  const Q = { x: big(Buffer.from(jwk.x, 'base64url')), y: big(Buffer.from(jwk.y, 'base64url')) };
  const X = add(multiply(mod(e * w, c.n), { x: c.gx, y: c.gy }, c), multiply(mod(r * w, c.n), Q, c), c);
  return X !== null && mod(X.x, c.n) === r;
}

const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/// A signature over the SHA-256 `digest` (ECDSA, or RSA PKCS#1 v1.5).
function verifiesDigest(key, digest, signature) {
  try {
    if (key.asymmetricKeyType === 'ec') return ecdsaVerifiesDigest(key, digest, signature);
    if (key.asymmetricKeyType === 'rsa') {
      const info = crypto.publicDecrypt({ key, padding: crypto.constants.RSA_PKCS1_PADDING }, signature);
      return info.equals(Buffer.concat([SHA256_DIGEST_INFO, digest]));
    }
  } catch (e) {
    return false;
  }
  return false;
}

function checkHashedrekord(spec) {
  const sig = spec.signature;
  if (!sig) throw new EntryError('missing signature');
  const signature = decodeBase64(sig.content);
  if (signature === null) {
    throw new EntryError(`failed parsing base64 data for signature content: ${base64Error(sig.content)}`);
  }
  if (!sig.publicKey) throw new EntryError('missing public key');
  const key = verifierKey(sig.publicKey.content, 'public key content');
  const hash = spec.data && spec.data.hash;
  if (!hash) throw new EntryError(spec.data ? 'missing hash' : 'missing data');
  if (hash.algorithm !== 'sha256' || !/^[0-9a-f]{64}$/.test(String(hash.value))) {
    throw new EntryError('invalid value for hash');
  }
  if (!verifiesDigest(key, Buffer.from(hash.value, 'hex'), signature)) {
    throw new EntryError('verifying signature: invalid signature when validating ASN.1 encoded signature');
  }
}

const KINDS = { dsse: checkDsse, hashedrekord: checkHashedrekord };
const OTHER_KINDS = ['alpine', 'cose', 'helm', 'intoto', 'jar', 'rekord', 'rfc3161', 'rpm', 'tuf'];

/// Check a proposed Rekor v1 entry (parsed JSON) as Rekor does; `null` when it may be
/// logged, else the refusal `{status, body}`.
function checkProposedEntry(entry) {
  const kind = entry && entry.kind;
  if (!KINDS[kind] && !OTHER_KINDS.includes(kind)) {
    return { status: 422, body: { code: 422, message: `invalid kind value: ${JSON.stringify(kind ?? '')}` } };
  }
  if (typeof entry.apiVersion !== 'string') {
    return { status: 422, body: { code: 602, message: 'apiVersion in body is required' } };
  }
  const refuse = (detail) => ({
    status: 400,
    body: { code: 400, message: `error processing entry: ${detail}` },
  });
  if (!KINDS[kind]) return refuse(`entry kind '${kind}' is not enabled for submission on this server`);
  if (entry.apiVersion !== '0.0.1') {
    return refuse(
      `${kind} implementation for version '${entry.apiVersion}' not found: unable to locate entry for version ${entry.apiVersion}`,
    );
  }
  try {
    KINDS[kind](entry.spec || {});
  } catch (e) {
    if (e instanceof EntryError) return refuse(e.message);
    throw e;
  }
  return null;
}

/// The `tamper` fault: the entry as a corrupting hop would pass it on, with one bit of
/// its (first) signature flipped.
function tamper(entry) {
  const flip = (b64) => {
    const bytes = Buffer.from(b64, 'base64');
    bytes[bytes.length - 1] ^= 1;
    return bytes.toString('base64');
  };
  const copy = JSON.parse(JSON.stringify(entry));
  if (copy.kind === 'dsse' && copy.spec?.proposedContent?.envelope) {
    const envelope = JSON.parse(copy.spec.proposedContent.envelope);
    envelope.signatures[0].sig = flip(envelope.signatures[0].sig);
    copy.spec.proposedContent.envelope = JSON.stringify(envelope);
  } else if (copy.spec?.signature?.content) {
    copy.spec.signature.content = flip(copy.spec.signature.content);
  }
  return copy;
}

module.exports = { pinnedJwks, checkSigningCertRequest, checkProposedEntry, tamper, TEST_KID };
