"""The registry's own share of an OCI write: the fewest requests a cosign-layout
attestation needs (read the tag, upload the layer and config blobs, write the
manifest), sent by a minimal keep-alive HTTP client with no auth probes, no
existence checks and no read-back. Used by `scripts/bench oci` to show how much of
`chainseal attest`'s time is the registry answering.

    registry_floor.py HOST:PORT REPO [RUNS]
"""
import hashlib
import http.client
import json
import os
import statistics
import sys
import threading
import time

host, port = sys.argv[1].rsplit(":", 1)
repo = sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 50


def request(conn, method, path, body=None, headers=None, want=None):
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    response.read()
    if want and response.status != want:
        sys.exit("%s %s: HTTP %d" % (method, path, response.status))
    return response


def upload(conn, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    location = request(conn, "POST", "/v2/%s/blobs/uploads/" % repo, want=202).getheader("Location")
    location = location.split("://", 1)[-1].split("/", 1)[-1]
    sep = "&" if "?" in location else "?"
    request(conn, "PUT", "/%s%sdigest=%s" % (location, sep, digest), body=data,
            headers={"Content-Type": "application/octet-stream"}, want=201)
    return digest, len(data)


def write_tag():
    """One new tag: GET (404), layer and config uploads, manifest PUT."""
    conn = http.client.HTTPConnection(host, int(port))
    tag = "sha256-%s.att" % os.urandom(32).hex()
    request(conn, "GET", "/v2/%s/manifests/%s" % (repo, tag))
    layer = upload(conn, os.urandom(1400))
    config = upload(conn, json.dumps({"rootfs": {"type": "layers", "diff_ids": [layer[0]]}}).encode())
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config[0], "size": config[1]},
        "layers": [{"mediaType": "application/vnd.dsse.envelope.v1+json", "digest": layer[0], "size": layer[1]}],
    }).encode()
    request(conn, "PUT", "/v2/%s/manifests/%s" % (repo, tag), body=manifest,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, want=201)
    conn.close()


def timed(tags):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        threads = [threading.Thread(target=write_tag) for _ in range(tags)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


print("registry floor, one new tag (6 requests): median %.1f ms" % timed(1))
print("registry floor, two new tags at once (.att and .sig): median %.1f ms" % timed(2))
