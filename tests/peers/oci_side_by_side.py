"""The OCI half of the side-by-side run (tests/peers/side_by_side.py `--oci N`): N
completed TaskRuns, each naming an image really pushed to a loopback registry
(distribution, REGISTRY_BIN), with `oci` storage for the TaskRun attestations and the
image signatures. Chains signs them, what it pushed is read back, the registry is put
back as it was before, chainseal signs them, what it pushed is read back; then, per
image and per cosign tag (`sha256-<hex>.att`, `.sig`): the manifest's media types and
annotations, each layer's media type, annotation names and content (an attestation's
DSSE payload field by field, an image signature's simple-signing payload byte for
byte), and that every signature verifies with the key.
"""

import base64
import copy
import hashlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request

from kube_cluster import free_port

SIGNATURE = "dev.cosignproject.cosign/signature"
# The Rekor bundle of a logged layer (differs by log entry).
BUNDLE = "dev.sigstore.cosign/bundle"


class Registry:
    """docker-registry (distribution 2.8) on a fixed loopback port, its storage in `dir`."""

    def __init__(self, work):
        self.dir = os.path.join(work, "registry")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.config = os.path.join(self.dir, "config.yml")
        with open(self.config, "w") as f:
            f.write("version: 0.1\nlog: {level: warn}\nstorage:\n  filesystem: {rootdirectory: %s}\n"
                    "  delete: {enabled: true}\nhttp: {addr: \"%s\"}\n" % (os.path.join(self.dir, "data"), self.host))
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.dir, "registry.log"), "a")
        self.proc = subprocess.Popen([os.environ["REGISTRY_BIN"], "serve", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            try:
                self.request("GET", "/v2/")
                return
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("the registry did not start; see %s" % self.dir)
                time.sleep(0.1)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()

    def snapshot(self):
        shutil.copytree(os.path.join(self.dir, "data"), os.path.join(self.dir, "pristine"))

    def restore(self):
        """Back to the snapshot: what a controller pushed is gone."""
        self.stop()
        shutil.rmtree(os.path.join(self.dir, "data"))
        shutil.copytree(os.path.join(self.dir, "pristine"), os.path.join(self.dir, "data"))
        self.start()

    def request(self, method, path, body=None, headers=None):
        req = urllib.request.Request("http://%s%s" % (self.host, path), data=body, method=method,
                                     headers=headers or {})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()

    def put_blob(self, repo, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        _, headers, _ = self.request("POST", "/v2/%s/blobs/uploads/" % repo)
        location = headers["Location"]
        location = location.split(self.host, 1)[-1]
        sep = "&" if "?" in location else "?"
        self.request("PUT", "%s%sdigest=%s" % (location, sep, digest), data,
                     {"Content-Type": "application/octet-stream"})
        return digest

    def push_image(self, repo, seed):
        """A small image of its own (one layer); returns its manifest digest."""
        layer = ("layer of %s #%d\n" % (repo, seed)).encode() * 64
        layer_digest = self.put_blob(repo, layer)
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}).encode()
        config_digest = self.put_blob(repo, config)
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": layer_digest, "size": len(layer)}]}).encode()
        self.request("PUT", "/v2/%s/manifests/latest" % repo, manifest,
                      {"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
        return "sha256:" + hashlib.sha256(manifest).hexdigest()

    def manifest(self, repo, ref):
        accept = ", ".join(["application/vnd.oci.image.manifest.v1+json",
                            "application/vnd.docker.distribution.manifest.v2+json"])
        try:
            _, _, body = self.request("GET", "/v2/%s/manifests/%s" % (repo, ref), None, {"Accept": accept})
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise
        return json.loads(body)

    def blob(self, repo, digest):
        return self.request("GET", "/v2/%s/blobs/%s" % (repo, digest))[2]


def oci_run(i, host, digest):
    """A completed TaskRun that pushed `host/team/oci-app-i@digest`."""
    return {
        "apiVersion": "tekton.dev/v1", "kind": "TaskRun",
        "metadata": {"name": "oci-%03d" % i, "namespace": "oci"},
        "spec": {"taskRef": {"name": "build", "kind": "Task"}, "serviceAccountName": "default"},
        "status": {"startTime": "2026-11-20T10:00:00Z", "completionTime": "2026-11-20T10:04:30Z",
                   "conditions": [{"type": "Succeeded", "status": "True", "reason": "Succeeded",
                                   "lastTransitionTime": "2026-11-20T10:04:30Z"}],
                   "podName": "oci-%03d-pod" % i,
                   "taskSpec": {"results": [{"name": "IMAGE_URL", "type": "string"},
                                            {"name": "IMAGE_DIGEST", "type": "string"}],
                                "steps": [{"name": "build", "image": "golang:1.26"}]},
                   "steps": [{"name": "build", "container": "step-build",
                              "imageID": "docker.io/library/golang@sha256:" + "a" * 64}],
                   "results": [{"name": "IMAGE_URL", "type": "string", "value": "%s/team/oci-app-%d" % (host, i)},
                               {"name": "IMAGE_DIGEST", "type": "string", "value": digest}]},
    }


def pushes(registry, images):
    """{image: {tag suffix: manifest with each layer's content}} of the cosign tags."""
    out = {}
    for repo, digest in images:
        tags = {}
        for suffix in ("att", "sig"):
            tag = digest.replace(":", "-") + "." + suffix
            m = registry.manifest(repo, tag)
            if m is None:
                continue
            m = copy.deepcopy(m)
            for layer in m.get("layers", []):
                layer["content"] = base64.b64encode(registry.blob(repo, layer["digest"])).decode()
            tags[suffix] = m
        out["%s@%s" % (repo, digest)] = tags
    return out


def compare(chains, chainseal, verify, diff, b64json):
    """Differences between two `pushes` results; `verify(signature_b64, payload_bytes)`
    checks a raw signature, `diff` and `b64json` are side_by_side's."""
    differences, verified = [], {"chains": 0, "chainseal": 0}
    for image in sorted(set(chains) | set(chainseal)):
        a, b = chains.get(image, {}), chainseal.get(image, {})
        if sorted(a) != sorted(b):
            differences.append({"run": image, "what": "cosign tags", "chains": sorted(a), "chainseal": sorted(b)})
        for suffix in sorted(set(a) & set(b)):
            ma, mb = a[suffix], b[suffix]
            for field in ("mediaType", "annotations"):
                if ma.get(field) != mb.get(field):
                    differences.append({"run": image, "what": "%s manifest %s" % (suffix, field),
                                        "chains": ma.get(field), "chainseal": mb.get(field)})
            if ma["config"]["mediaType"] != mb["config"]["mediaType"]:
                differences.append({"run": image, "what": "%s config mediaType" % suffix,
                                    "chains": ma["config"]["mediaType"], "chainseal": mb["config"]["mediaType"]})
            if len(ma["layers"]) != len(mb["layers"]):
                differences.append({"run": image, "what": "%s layers" % suffix,
                                    "chains": len(ma["layers"]), "chainseal": len(mb["layers"])})
            for la, lb in zip(ma["layers"], mb["layers"]):
                where = "%s layer" % suffix
                if la["mediaType"] != lb["mediaType"]:
                    differences.append({"run": image, "what": where + " mediaType",
                                        "chains": la["mediaType"], "chainseal": lb["mediaType"]})
                aa, ab = la.get("annotations") or {}, lb.get("annotations") or {}
                if sorted(aa) != sorted(ab):
                    differences.append({"run": image, "what": where + " annotation names",
                                        "chains": sorted(aa), "chainseal": sorted(ab)})
                for k in sorted(set(aa) & set(ab) - {SIGNATURE, BUNDLE}):
                    if aa[k] != ab[k]:
                        differences.append({"run": image, "what": "%s annotation %s" % (where, k),
                                            "chains": aa[k], "chainseal": ab[k]})
                for who, layer in (("chains", la), ("chainseal", lb)):
                    if verify(layer, who):
                        verified[who] += 1
                    else:
                        differences.append({"run": image, "what": where + " signature does not verify", who: layer["digest"]})
                ca, cb = base64.b64decode(la["content"]), base64.b64decode(lb["content"])
                if suffix == "att":
                    ea, eb = json.loads(ca), json.loads(cb)
                    found = []
                    diff(b64json(ea["payload"]), b64json(eb["payload"]), where + " payload", found)
                    if ea.get("payloadType") != eb.get("payloadType"):
                        found.append({"what": where + " payloadType", "chains": ea.get("payloadType"),
                                      "chainseal": eb.get("payloadType")})
                    differences.extend(dict(d, run=image) for d in found)
                elif ca != cb:
                    differences.append({"run": image, "what": where + " content", "chains": ca.decode(errors="replace"),
                                        "chainseal": cb.decode(errors="replace")})
    return differences, verified
