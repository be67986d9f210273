//! Tekton Chains itself beside chainseal: Chains' controller (v0.26.2, built by
//! scripts/peers) and `chainseal controller`, one after the other, on one real
//! kube-apiserver (v1.34.2, with etcd 3.6.6) with the same chains-config, the same
//! signing key and the same completed runs — Chains' e2e records plus generated ones,
//! with `tekton` storage; then runs naming images in a loopback registry, with `oci`
//! storage. `tests/peers/side_by_side.py` runs both and compares what each wrote; this test
//! holds the comparison to the differences docs/chains-compatibility.md documents
//! ("Side by side with Chains"), so any new one fails it.
//!
//! Needs `INTEROP_PYTHON`, `CHAINS_CONTROLLER_BIN`, `ETCD_BIN`, `KUBE_APISERVER_BIN`,
//! `REGISTRY_BIN` (scripts/test sets them), root (Chains reads its key from the fixed path
//! /etc/signing-secrets, shown to it alone through a private mount namespace) and
//! `unshare`.

use crate::common::{repo, tool};

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use serde_json::{Value, json};

/// Generated TaskRuns besides the e2e records (each names one image).
const GENERATED: usize = 1000;
/// Runs of the `oci` storage phase (each names an image pushed to a loopback registry).
const OCI_RUNS: usize = 10;

/// The documented differences: (run, what differs, as side_by_side.py names them) →
/// the exact (Chains, chainseal) values, or `None` where the value is a whole
/// envelope that differs because of a listed field.
type Expected = BTreeMap<(String, String), Option<(Value, Value)>>;

const IMAGE_BUILD: &str = "taskruns/e2e-task-with-object-type-hinting/image-build";
const IMG1: (&str, &str) = (
    "gcr.io/foo/img1",
    "586789aa031fafc7d78a5393cdc772e0b55107ea54bb8bcf3f2cdac6c6da51ee",
);
const IMG2: (&str, &str) = (
    "gcr.io/foo/img2",
    "05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5",
);

fn expected(format: &str) -> Expected {
    let mut out = Expected::new();
    let mut add = |run: &str, what: &str, values: Option<(Value, Value)>| {
        out.insert((run.to_owned(), what.to_owned()), values);
    };
    let e2e = [
        "pipelineruns/e2e-pipeline-output-image/image-pipelinerunk7x2p",
        "taskruns/e2e-pipeline-output-image/image-pipelinerunk7x2p-buildimage",
        "pipelineruns/e2e-pipeline-with-object-type-hinting/pipeline-test-run",
        "taskruns/e2e-pipeline-with-object-type-hinting/pipeline-test-run-t1",
        "pipelineruns/e2e-pipeline-with-repeated-results/pipeline-test-run",
        "taskruns/e2e-pipeline-with-repeated-results/pipeline-test-run-t1",
        "taskruns/e2e-pipeline-with-repeated-results/pipeline-test-run-t2",
        "taskruns/e2e-pipeline-with-repeated-results/pipeline-test-run-t3",
        "taskruns/e2e-task-output-image/build-push-run-output-image-test",
        IMAGE_BUILD,
    ];
    let generated = (0..GENERATED).map(|i| format!("taskruns/gen-{}/gen-{i:05}", i % 4));
    // S1. Finalizers: Chains puts its finalizer on every run it reconciles and keeps
    //     it; chainseal adds none unless CHAINSEAL_FINALIZERS=true.
    for run in e2e.iter().map(|r| (*r).to_owned()).chain(generated) {
        let kind = if run.starts_with("pipelineruns/") {
            "pipelinerun"
        } else {
            "taskrun"
        };
        let finalizer = format!("chains.tekton.dev/{kind}");
        add(&run, "finalizers", Some((json!([finalizer]), json!([]))));
    }
    // S2. Images named by `*ARTIFACT_OUTPUTS` results with isBuildArtifact "true" are
    //     signed by Chains from v0.27.0 (tektoncd/chains#1578), which chainseal
    //     follows, and not by v0.26.2: image annotations only chainseal writes…
    let key = &IMG1.1[..12];
    for t in ["t1", "t2"] {
        add(
            &format!("taskruns/e2e-pipeline-with-repeated-results/pipeline-test-run-{t}"),
            "annotation names",
            Some((
                json!([]),
                json!(
                    ["cert", "chain", "payload", "signature"]
                        .map(|a| format!("chains.tekton.dev/{a}-{key}"))
                ),
            )),
        );
    }
    // …and an image key (first 12 hex digits of the digest) both write for two
    //     different images, each keeping its last: Chains v0.26.2 gcr.io/foo/bar,
    //     chainseal (and Chains v0.27+) img2 from ARTIFACT_OUTPUTS.
    let bar = "sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b6";
    for (field, chains, ours) in [
        (
            "identity/docker-reference",
            "gcr.io/foo/bar".to_owned(),
            IMG2.0.to_owned(),
        ),
        (
            "image/docker-manifest-digest",
            bar.to_owned(),
            format!("sha256:{}", IMG2.1),
        ),
    ] {
        add(
            IMAGE_BUILD,
            &format!("chains.tekton.dev/payload-05f95b26ed10/critical/{field}"),
            Some((json!(chains), json!(ours))),
        );
    }
    // S3. In the formats listing every ARTIFACT_OUTPUTS entry as a subject, img2 comes
    //     before img1 (v0.27+ lists image artifacts among the image type-hints).
    if format != "slsa/v2alpha4" {
        let subject = "chains.tekton.dev/payload-taskrun-<uid>/subject";
        for (i, chains, ours) in [(2, IMG1, IMG2), (3, IMG2, IMG1)] {
            add(
                IMAGE_BUILD,
                &format!("{subject}/{i}/name"),
                Some((json!(chains.0), json!(ours.0))),
            );
            add(
                IMAGE_BUILD,
                &format!("{subject}/{i}/digest/sha256"),
                Some((json!(chains.1), json!(ours.1))),
            );
        }
        add(
            IMAGE_BUILD,
            "chains.tekton.dev/signature-taskrun-<uid>/payload",
            None,
        );
    }
    out
}

#[test]
fn tekton_chains_and_chainseal_sign_the_same_runs_alike() {
    let what = "the side-by-side run of Tekton Chains and chainseal";
    let Some(python) = tool("INTEROP_PYTHON", what) else {
        return;
    };
    let Some(chains) = tool("CHAINS_CONTROLLER_BIN", what) else {
        return;
    };
    let Some(registry) = tool("REGISTRY_BIN", what) else {
        return;
    };
    // The harness reads these two itself; checked here so a missing one says so.
    if tool("ETCD_BIN", what).is_none() || tool("KUBE_APISERVER_BIN", what).is_none() {
        return;
    }
    // Chains reads its key from /etc/signing-secrets only: the harness shows it ours
    // there through a private mount namespace, which needs root (CAP_SYS_ADMIN).
    let private_mounts = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        private_mounts,
        "`unshare --mount` fails here: the side-by-side run needs root with CAP_SYS_ADMIN (util-linux's unshare) to show Chains its key at /etc/signing-secrets"
    );
    let dir = tempfile::tempdir().expect("tmp");
    let report = dir.path().join("report.json");
    let out = Command::new(python)
        .arg(repo("tests/peers/side_by_side.py"))
        .arg(&chains)
        .arg(env!("CARGO_BIN_EXE_chainseal"))
        .arg(dir.path().join("work"))
        .arg(&report)
        .args(["--generated", &GENERATED.to_string()])
        .args(["--formats", "slsa/v2alpha4,slsa/v1,slsa/v2alpha3"])
        .args(["--oci", &OCI_RUNS.to_string()])
        .env("REGISTRY_BIN", registry)
        .output()
        .expect("python runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "side_by_side.py failed (logs in its work directory):\n{stderr}"
    );
    eprint!("{stderr}");
    let report: Value =
        serde_json::from_slice(&std::fs::read(&report).expect("report")).expect("JSON");
    let runs = GENERATED + 10;
    for format in ["slsa/v2alpha4", "slsa/v1", "slsa/v2alpha3"] {
        let r = &report["formats"][format];
        assert_eq!(r["runs"], runs, "{format}: runs compared");
        // Every signature either wrote verifies with the key (attestations: 10 e2e runs
        // and the generated ones; image signatures: 1 per generated run and the e2e
        // images Chains v0.26.2 signs).
        let signatures = (runs + GENERATED + 5) as u64;
        for who in ["chains", "chainseal"] {
            assert_eq!(
                r["verified"][who].as_u64(),
                Some(signatures),
                "{format}: signatures by {who} that verify"
            );
        }
        // The comparison can fail: a changed payload and a flipped signature bit are
        // each reported.
        assert_eq!(
            r["self_check"],
            serde_json::json!({"changed_payload_reported": true, "flipped_signature_reported": true}),
            "{format}: self-check"
        );
        let differences = r["differences"].as_array().expect("differences");
        let key = |d: &Value| {
            (
                d["run"].as_str().unwrap_or_default().to_owned(),
                d["what"].as_str().unwrap_or_default().to_owned(),
            )
        };
        let found: BTreeSet<(String, String)> = differences.iter().map(key).collect();
        let expected = expected(format);
        let new: Vec<_> = differences
            .iter()
            .filter(|d| match expected.get(&key(d)) {
                None => true,
                Some(None) => false,
                Some(Some((chains, ours))) => d["chains"] != *chains || d["chainseal"] != *ours,
            })
            .take(10)
            .collect();
        assert!(
            new.is_empty(),
            "{format}: differences from Chains not documented in docs/chains-compatibility.md: {new:#?}"
        );
        let gone: Vec<_> = expected
            .keys()
            .filter(|k| !found.contains(*k))
            .take(10)
            .collect();
        assert!(
            gone.is_empty(),
            "{format}: documented differences no longer seen (update the docs and this test): {gone:#?}"
        );
    }
    // `oci` storage: the same cosign tags (`.att`, `.sig`) on every image, the same
    // manifests, the same simple-signing payloads byte for byte and the same
    // attestation payloads field by field; every layer's signature verifies. The
    // one difference: chainseal's `.att` layers also carry a `predicateType`
    // annotation, as `cosign attest` writes it (deliberate difference 11).
    let oci = &report["oci"];
    assert_eq!(oci["runs"], OCI_RUNS, "oci: runs compared");
    for who in ["chains", "chainseal"] {
        assert_eq!(
            oci["tags"][who],
            2 * OCI_RUNS,
            "oci: cosign tags {who} pushed"
        );
        assert_eq!(
            oci["verified"][who],
            2 * OCI_RUNS,
            "oci: layers {who} pushed that verify"
        );
    }
    let differences = oci["differences"].as_array().expect("differences");
    let undocumented: Vec<_> = differences
        .iter()
        .filter(|d| {
            let mut with_predicate_type = d["chains"].as_array().cloned().unwrap_or_default();
            with_predicate_type.push(json!("predicateType"));
            with_predicate_type.sort_by_key(ToString::to_string);
            d["what"] != "att layer annotation names"
                || d["chainseal"] != Value::Array(with_predicate_type)
        })
        .take(10)
        .collect();
    assert!(
        undocumented.is_empty(),
        "oci: differences from Chains not documented in docs/chains-compatibility.md: {undocumented:#?}"
    );
    assert_eq!(
        differences.len(),
        OCI_RUNS,
        "oci: the predicateType annotation is seen on every image"
    );
}
