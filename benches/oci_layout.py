"""Write a minimal single-layer OCI image layout to DIR and print its manifest digest;
used by `scripts/bench oci` to push test images with skopeo.

    oci_layout.py DIR          # one image, tag `v1`
    oci_layout.py DIR COUNT    # COUNT distinct images, tags `v1`..`vCOUNT`, one digest a line
"""
import hashlib
import json
import os
import sys

out = sys.argv[1]
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)


def blob(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return "sha256:" + digest, len(data)


layer, layer_size = blob(bytes(1024))
count = int(sys.argv[2]) if len(sys.argv) > 2 else 1
entries = []
for n in range(1, count + 1):
    # The first image is the one the single-image form has always written.
    config_doc = {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [layer]}}
    if n > 1:
        config_doc["config"] = {"Labels": {"bench.image": str(n)}}
    config, config_size = blob(json.dumps(config_doc).encode())
    manifest, manifest_size = blob(json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layer_size}],
    }).encode())
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest, "size": manifest_size, "annotations": {"org.opencontainers.image.ref.name": "v%d" % n}})
    print(manifest)
with open(os.path.join(out, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": entries}, f)
