"""Check, with python `cryptography` and nothing of chainseal, that the KMS double
(kms_double.py) signs RSA keys as their type says: RSASSA-PSS (MGF1 with the digest's
hash, salt length = digest length) for Cloud KMS RSA_SIGN_PSS_* versions and Key Vault
PS256/384/512, PKCS#1 v1.5 for RSA_SIGN_PKCS1_* and RS256/384/512.

usage:
  kms_double_check.py gcp   INFO_JSON DIR KEY...   # RSA keys (version 1) of the GCP double
  kms_double_check.py azure INFO_JSON DIR KEY...   # RSA keys of the Azure double, every PS*/RS* alg

INFO_JSON is the double's ready line; DIR holds its <key>.pub files. Exit 0, 1
(`rejected: <why>`) or 2 (crash), as oracle.py says.
"""

import base64
import hashlib
import json
import os
import secrets
import ssl
import sys
import urllib.parse
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from oracle import Rejected, load_public_key, main

HASHES = {"SHA256": hashes.SHA256(), "SHA384": hashes.SHA384(), "SHA512": hashes.SHA512()}
GCP_RING = "projects/p/locations/global/keyRings/r/cryptoKeys"


def call(url, body=None, headers=None, context=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(request, timeout=30, context=context) as response:
        return json.loads(response.read())


def public_key(directory, key):
    return load_public_key(os.path.join(directory, f"{key}.pub"))


def check_rsa(public, signature, digest, hash_name, want_pss, what):
    """Verify `signature` over the prehashed `digest` with the padding the key type
    says; name the padding actually used when it is the other one."""
    hash_alg = HASHES[hash_name]
    pss = padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
    wanted, other = (pss, padding.PKCS1v15()) if want_pss else (padding.PKCS1v15(), pss)
    try:
        public.verify(signature, digest, wanted, utils.Prehashed(hash_alg))
        return
    except InvalidSignature:
        pass
    try:
        public.verify(signature, digest, other, utils.Prehashed(hash_alg))
        used = "PKCS#1 v1.5" if want_pss else "RSASSA-PSS"
        raise Rejected(f"{what}: signed with {used}, not the {'PSS' if want_pss else 'PKCS#1 v1.5'} its type says")
    except InvalidSignature:
        raise Rejected(f"{what}: the signature does not verify with the key's public key") from None


def gcp(info, directory, keys):
    token = call(info["token_uri"], {"grant_type": "refresh_token", "refresh_token": "double-refresh"})["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    for key in keys:
        name = f"{GCP_RING}/{key}/cryptoKeyVersions/1"
        algorithm = call(f"{info['endpoint']}/v1/{name}/publicKey", headers=auth)["algorithm"]
        if not algorithm.startswith("RSA_SIGN_"):
            raise Rejected(f"{key}: {algorithm} is not an RSA signing algorithm")
        hash_name = algorithm.rsplit("_", 1)[-1]
        digest = hashlib.new(hash_name.lower(), secrets.token_bytes(64)).digest()
        body = {"digest": {hash_name.lower(): base64.b64encode(digest).decode()}}
        out = call(f"{info['endpoint']}/v1/{name}:asymmetricSign", body, auth)
        signature = base64.b64decode(out["signature"])
        check_rsa(public_key(directory, key), signature, digest, hash_name, "_PSS_" in algorithm, f"{key} ({algorithm})")
        print(f"verified {key}: {algorithm}")


def azure(info, directory, keys):
    query = urllib.parse.urlencode({"resource": "https://vault.azure.net", "api-version": "2019-08-01"})
    token = call(f"{info['identity_endpoint']}?{query}", headers={"X-IDENTITY-HEADER": info["identity_header"]})["access_token"]
    context = ssl.create_default_context(cafile=info["ca"])
    for key in keys:
        for alg in ["PS256", "PS384", "PS512", "RS256", "RS384", "RS512"]:
            hash_name = "SHA" + alg[2:]
            digest = hashlib.new(hash_name.lower(), secrets.token_bytes(64)).digest()
            value = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            url = f"https://{info['vault_host']}/keys/{key}/sign?api-version=7.5"
            out = call(url, {"alg": alg, "value": value}, {"Authorization": f"Bearer {token}"}, context)
            signature = base64.urlsafe_b64decode(out["value"] + "=" * (-len(out["value"]) % 4))
            check_rsa(public_key(directory, key), signature, digest, hash_name, alg.startswith("PS"), f"{key} {alg}")
            print(f"verified {key}: {alg}")


def run():
    mode, info, directory, keys = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4:]
    if not keys:
        sys.exit("name at least one key")
    {"gcp": gcp, "azure": azure}[mode](info, directory, keys)


if __name__ == "__main__":
    main(run)
