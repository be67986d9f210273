//! Golden tests: chainseal's provenance for Tekton Chains' own fixtures equals the
//! output Chains produces (compared as parsed JSON; Chains' bytes are not stable).

use std::path::{Path, PathBuf};

use chainseal::provenance::{Options, generate};
use chainseal::record::tekton::load;
use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/chains")
        .join(rel)
}

fn expected(rel: &str) -> Value {
    let text = std::fs::read_to_string(fixture(rel)).expect("expected file");
    serde_json::from_str(&text).expect("expected JSON")
}

fn generated(inputs: &[&str], builder: &str) -> Value {
    generated_as(inputs, builder, "slsa/v1.0")
}

fn generated_as(inputs: &[&str], builder: &str, format: &str) -> Value {
    let paths: Vec<PathBuf> = inputs.iter().map(|i| fixture(i)).collect();
    let record = load(&paths).expect("fixture loads");
    let mut options = Options::new(builder);
    options.format = format.parse().expect("format");
    let out = generate(&record, &options).expect("provenance");
    serde_json::to_value(&out.statement).expect("statement serialises")
}

fn assert_json_eq(got: &Value, want: &Value) {
    assert!(
        got == want,
        "provenance differs\n--- got ---\n{}\n--- want ---\n{}",
        serde_json::to_string_pretty(got).unwrap_or_default(),
        serde_json::to_string_pretty(want).unwrap_or_default()
    );
}

#[test]
fn slsa_v2alpha4_taskrun1_matches_chains() {
    let got = generated(
        &["unit-inputs/slsa-v2alpha4/taskrun1.json"],
        "test_builder-1",
    );
    assert_json_eq(
        &got,
        &expected("expected-derived/slsa-v2alpha4-taskrun1.expected.json"),
    );
}

#[test]
fn slsa_v2alpha4_name_gives_the_same_output() {
    let got = generated_as(
        &["unit-inputs/slsa-v2alpha4/taskrun1.json"],
        "test_builder-1",
        "slsa/v2alpha4",
    );
    assert_json_eq(
        &got,
        &expected("expected-derived/slsa-v2alpha4-taskrun1.expected.json"),
    );
}

#[test]
fn slsa_v2alpha3_taskrun1_matches_chains() {
    let got = generated_as(
        &["unit-inputs/slsa-v2alpha3/taskrun1.json"],
        "test_builder-1",
        "slsa/v2alpha3",
    );
    assert_json_eq(
        &got,
        &expected("expected-derived/slsa-v2alpha3-taskrun1.expected.json"),
    );
}

#[test]
fn slsa_v2alpha3_pipelinerun1_matches_chains() {
    let got = generated_as(
        &[
            "unit-inputs/slsa-v2alpha3/pipelinerun1.json",
            "unit-inputs/slsa-v2alpha3/taskrun1.json",
            "unit-inputs/slsa-v2alpha3/taskrun2.json",
        ],
        "test_builder-1",
        "slsa/v2alpha3",
    );
    assert_json_eq(
        &got,
        &expected("expected-derived/slsa-v2alpha3-pipelinerun1.expected.json"),
    );
}

#[test]
fn slsa_v1_in_toto_taskruns_match_chains() {
    for (input, builder, want) in [
        (
            "taskrun1.json",
            "test_builder-1",
            "slsa-v1-taskrun1.expected.json",
        ),
        (
            "taskrun2.json",
            "test_builder-2",
            "slsa-v1-taskrun2.expected.json",
        ),
        (
            "taskrun-multiple-subjects.json",
            "test_builder-multiple",
            "slsa-v1-taskrun-multiple-subjects.expected.json",
        ),
    ] {
        for format in ["slsa/v1", "in-toto", "slsa/v0.2"] {
            let got = generated_as(
                &[&format!("unit-inputs/pipeline-v1/{input}")],
                builder,
                format,
            );
            assert_json_eq(&got, &expected(&format!("expected-derived/{want}")));
        }
    }
}

#[test]
fn slsa_v1_pipelinerun1_matches_chains() {
    let got = generated_as(
        &[
            "unit-inputs/pipeline-v1/pipelinerun1.json",
            "unit-inputs/pipeline-v1/taskrun1.json",
            "unit-inputs/pipeline-v1/taskrun2.json",
        ],
        "test_builder-1",
        "slsa/v1",
    );
    assert_json_eq(
        &got,
        &expected("expected-derived/slsa-v1-pipelinerun1.expected.json"),
    );
}

#[test]
fn payload_bytes_have_sorted_predicate_keys() {
    let paths = vec![fixture("unit-inputs/slsa-v2alpha4/taskrun1.json")];
    let record = load(&paths).expect("fixture loads");
    let out = generate(&record, &Options::new("b")).expect("provenance");
    let text = String::from_utf8(out.statement.to_bytes()).expect("utf-8");
    assert!(text.starts_with(r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"gcr.io/my/image/fromstep3","#), "{text}");
    assert!(text.contains(r#""predicate":{"buildDefinition":{"buildType":"https://tekton.dev/chains/v2/slsa","externalParameters":"#), "{text}");
}
