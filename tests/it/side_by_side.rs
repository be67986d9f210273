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

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

/// Generated TaskRuns besides the e2e records (each names one image).
const GENERATED: usize = 1000;
/// Runs of the `oci` storage phase (each names an image pushed to a loopback registry).
const OCI_RUNS: usize = 10;

/// A documented difference: (run, what differs), as side_by_side.py names them.
fn expected(format: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
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
        "taskruns/e2e-task-with-object-type-hinting/image-build",
    ];
    let generated = (0..GENERATED).map(|i| format!("taskruns/gen-{}/gen-{i:05}", i % 4));
    // 1. Finalizers: Chains puts its finalizer on every run it reconciles and keeps
    //    it; chainseal adds none unless CHAINSEAL_FINALIZERS=true (docs/controller.md).
    for run in e2e.iter().map(|r| (*r).to_owned()).chain(generated) {
        out.insert((run, "finalizers".to_owned()));
    }
    // 2. Images named by `*ARTIFACT_OUTPUTS` results with isBuildArtifact "true" are
    //    signed by Chains from v0.27.0 (tektoncd/chains#1578), which chainseal
    //    follows, and not by v0.26.2: image annotations only chainseal writes…
    for t in ["t1", "t2"] {
        out.insert((
            format!("taskruns/e2e-pipeline-with-repeated-results/pipeline-test-run-{t}"),
            "annotation names".to_owned(),
        ));
    }
    // …an image key (first 12 hex digits of the digest) both write for two
    // different images, each keeping its last (img2 from ARTIFACT_OUTPUTS here)…
    let image_build = "taskruns/e2e-task-with-object-type-hinting/image-build";
    for field in [
        "critical/identity/docker-reference",
        "critical/image/docker-manifest-digest",
    ] {
        out.insert((
            image_build.to_owned(),
            format!("chains.tekton.dev/payload-05f95b26ed10/{field}"),
        ));
    }
    // …and, in the formats listing every ARTIFACT_OUTPUTS entry as a subject, that
    //    image earlier among the subjects (v0.27+ lists image artifacts first).
    if format != "slsa/v2alpha4" {
        for field in ["2/digest/sha256", "2/name", "3/digest/sha256", "3/name"] {
            out.insert((
                image_build.to_owned(),
                format!("chains.tekton.dev/payload-taskrun-<uid>/subject/{field}"),
            ));
        }
        out.insert((
            image_build.to_owned(),
            "chains.tekton.dev/signature-taskrun-<uid>/payload".to_owned(),
        ));
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
        let found: BTreeSet<(String, String)> = r["differences"]
            .as_array()
            .expect("differences")
            .iter()
            .map(|d| {
                (
                    d["run"].as_str().unwrap_or_default().to_owned(),
                    d["what"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let expected = expected(format);
        let new: Vec<_> = r["differences"]
            .as_array()
            .expect("differences")
            .iter()
            .filter(|d| {
                !expected.contains(&(
                    d["run"].as_str().unwrap_or_default().to_owned(),
                    d["what"].as_str().unwrap_or_default().to_owned(),
                ))
            })
            .take(10)
            .collect();
        assert!(
            new.is_empty(),
            "{format}: differences from Chains not documented in docs/chains-compatibility.md: {new:#?}"
        );
        let gone: Vec<_> = expected.difference(&found).take(10).collect();
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
            d["what"] != "att layer annotation names"
                || d["chainseal"].as_array().is_none_or(|names| {
                    !names.iter().any(|n| n == "predicateType")
                        || names.len() != d["chains"].as_array().map_or(0, Vec::len) + 1
                })
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
