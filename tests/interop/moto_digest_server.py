"""moto_server with AWS KMS `Sign` honouring `MessageType=DIGEST`, as AWS does.

usage: moto_digest_server.py [moto_server arguments, e.g. -H 127.0.0.1 -p 0]

moto 5.2 ignores `MessageType` and hashes the message again, so what chainseal signs
through it is a signature over sha256(sha256(PAE)), which no verifier accepts (see
`moto_kms.py`). AWS KMS signs a DIGEST message as the digest itself
(https://docs.aws.amazon.com/kms/latest/APIReference/API_Sign.html): this launcher
makes moto do the same for ECDSA and RSA keys, so that a peer verifier (cosign) can
check what went through it. A digest whose length is not the algorithm's is refused
with AWS's ValidationException, as AWS refuses it. Everything else is moto's own.
"""
import base64
import json
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from moto import server
from moto.kms import responses
from moto.kms.exceptions import ValidationException

HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}
ORIGINAL_SIGN = responses.KmsResponse.sign


def sign_digest(self) -> str:
    if self._get_param("MessageType") != "DIGEST":
        return ORIGINAL_SIGN(self)
    key_id = self._get_param("KeyId")
    digest = self._get_param("Message")
    algorithm = self._get_param("SigningAlgorithm")
    self._validate_key_id(key_id)
    key = self.kms_backend.describe_key(key_id)
    if algorithm not in key.signing_algorithms:
        raise ValidationException(
            f"1 validation error detected: Value '{algorithm}' at 'SigningAlgorithm' failed "
            f"to satisfy constraint: Member must satisfy enum value set: {key.signing_algorithms}"
        )
    hash_algorithm = HASHES[algorithm[-3:]]()
    if len(digest) != hash_algorithm.digest_size:
        raise ValidationException(
            "Digest is invalid length for algorithm " + algorithm + "."
        )
    prehashed = utils.Prehashed(hash_algorithm)
    private = key.private_key.private_key
    if algorithm.startswith("ECDSA"):
        signature = private.sign(digest, ec.ECDSA(prehashed))
    elif algorithm.startswith("RSASSA_PSS"):
        pss = padding.PSS(mgf=padding.MGF1(hash_algorithm), salt_length=hash_algorithm.digest_size)
        signature = private.sign(digest, pss, prehashed)
    else:
        signature = private.sign(digest, padding.PKCS1v15(), prehashed)
    return json.dumps(
        {
            "KeyId": key.arn,
            "Signature": base64.b64encode(signature).decode(),
            "SigningAlgorithm": algorithm,
        }
    )


responses.KmsResponse.sign = sign_digest

if __name__ == "__main__":
    server.main(sys.argv[1:])
