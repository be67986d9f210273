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
    generated_with(inputs, builder, format, false)
}

fn generated_with(inputs: &[&str], builder: &str, format: &str, deep: bool) -> Value {
    let paths: Vec<PathBuf> = inputs.iter().map(|i| fixture(i)).collect();
    let record = load(&paths).expect("fixture loads");
    let mut options = Options::new(builder);
    options.format = format.parse().expect("format");
    options.deep_inspection = deep;
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

/// Compare with Chains' expectation except `runSpec`, which chainseal copies from the
/// record verbatim where Chains re-serialises Go structs (dropping e.g. an empty
/// `params: []`): deliberate difference 1 of `docs/chains-compatibility.md`. The
/// runSpec is checked against the input's `spec` instead.
fn assert_json_eq_runspec_verbatim(got: &Value, want: &Value, input: &str) {
    let ptr = "/predicate/buildDefinition/externalParameters/runSpec";
    let input: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(input)).expect("input"))
            .expect("JSON");
    match got.pointer(ptr) {
        Some(spec) => {
            assert_eq!(spec, &input["spec"], "runSpec is the recorded spec");
            let mut want = want.clone();
            if let Some(w) = want.pointer_mut(ptr) {
                w.clone_from(spec);
            }
            assert_json_eq(got, &want);
        }
        None => assert_json_eq(got, want),
    }
}

/// Expectations transcribed from Chains' Go unit tests (`tests/fixtures/derived/README.md`).
fn derived(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/derived")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).expect("derived file")).expect("JSON")
}

#[test]
fn transcribed_go_test_expectations_match() {
    let v4 = "unit-inputs/slsa-v2alpha4";
    let cases: &[(&[&str], &str, &str, bool, &str)] = &[
        (
            &["unit-inputs/slsa-v2alpha4/taskrun2.json"],
            "test_builder-2",
            "slsa/v2alpha4",
            false,
            "v2alpha4-taskrun2.json",
        ),
        (
            &["unit-inputs/slsa-v2alpha4/taskrun-multiple-subjects.json"],
            "test_builder-multiple",
            "slsa/v2alpha4",
            false,
            "v2alpha4-taskrun-multiple-subjects.json",
        ),
        (
            &["unit-inputs/slsa-v2alpha3/taskrun2.json"],
            "test_builder-2",
            "slsa/v2alpha3",
            false,
            "v2alpha3-taskrun2.json",
        ),
        (
            &[
                "unit-inputs/pipeline-v1/pipelinerun1.json",
                "unit-inputs/pipeline-v1/taskrun1.json",
                "unit-inputs/pipeline-v1/taskrun2.json",
            ],
            "test_builder-1",
            "slsa/v1",
            true,
            "v1-pipelinerun1-deep-on.json",
        ),
        (
            &[
                "unit-inputs/pipeline-v1/pipelinerun-childrefs.json",
                "unit-inputs/pipeline-v1/taskrun1.json",
                "unit-inputs/pipeline-v1/taskrun2.json",
            ],
            "test_builder-1",
            "slsa/v1",
            false,
            "v1-pipelinerun-childrefs.json",
        ),
    ];
    for (inputs, builder, format, deep, want) in cases {
        let got = generated_with(inputs, builder, format, *deep);
        assert_json_eq_runspec_verbatim(&got, &derived(want), inputs[0]);
    }
    let pr1 = [
        format!("{v4}/pipelinerun1.json"),
        format!("{v4}/taskrun1.json"),
        format!("{v4}/taskrun2.json"),
    ];
    let pr1: Vec<&str> = pr1.iter().map(String::as_str).collect();
    for (deep, want) in [
        (false, "v2alpha4-pipelinerun1-deep-off.json"),
        (true, "v2alpha4-pipelinerun1-deep-on.json"),
    ] {
        let got = generated_with(&pr1, "test_builder-1", "slsa/v2alpha4", deep);
        assert_json_eq(&got, &derived(want));
    }
    let pr2 = [
        format!("{v4}/pipelinerun2.json"),
        format!("{v4}/taskrun3.json"),
        format!("{v4}/taskrun4.json"),
    ];
    let pr2: Vec<&str> = pr2.iter().map(String::as_str).collect();
    let got = generated_with(&pr2, "test_builder-1", "slsa/v2alpha4", true);
    assert_json_eq(&got, &derived("v2alpha4-pipelinerun2-deep-on.json"));
}

#[test]
fn transcribed_partial_expectations_match() {
    // Remote resolvers: externalParameters.buildConfigSource. The PipelineRun lists
    // children by name that the fixture set lacks; Chains' formatter test hands
    // children over directly, so the references are dropped here (chainseal refuses a
    // record whose listed TaskRuns are missing).
    let dir = tempfile::tempdir().expect("tmp");
    let mut pr: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture(
            "unit-inputs/slsa-v2alpha3/pipelinerun-remote-resolver.json",
        ))
        .expect("input"),
    )
    .expect("JSON");
    if let Some(status) = pr["status"].as_object_mut() {
        status.remove("childReferences");
    }
    let pr_path = dir.path().join("pipelinerun-remote-resolver.json");
    std::fs::write(&pr_path, pr.to_string()).expect("write");
    let pr_path = pr_path.to_string_lossy().into_owned();
    for (inputs, want) in [
        (
            vec!["unit-inputs/slsa-v2alpha3/taskrun-remote-resolver.json"],
            "v2alpha3-taskrun-remote-resolver.partial.json",
        ),
        (
            vec![
                pr_path.as_str(),
                "unit-inputs/slsa-v2alpha3/taskrun1.json",
                "unit-inputs/slsa-v2alpha3/taskrun2.json",
            ],
            "v2alpha3-pipelinerun-remote-resolver.partial.json",
        ),
    ] {
        // v2alpha4 builds externalParameters with the same function as v2alpha3.
        for format in ["slsa/v2alpha3", "slsa/v2alpha4"] {
            let got = generated_as(&inputs, "b", format);
            let mut want = derived(want)["externalParameters"].clone();
            // runSpec is verbatim (deliberate difference 1); buildConfigSource is the point.
            want["runSpec"] =
                got["predicate"]["buildDefinition"]["externalParameters"]["runSpec"].clone();
            assert_json_eq(
                &got["predicate"]["buildDefinition"]["externalParameters"],
                &want,
            );
        }
    }
    let pv1 = |names: &[&str]| -> Vec<String> {
        names
            .iter()
            .map(|n| format!("unit-inputs/pipeline-v1/{n}"))
            .collect()
    };
    let inputs = pv1(&[
        "pipelinerun_structured_results.json",
        "taskrun1.json",
        "taskrun2.json",
    ]);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let got = generated_as(&inputs, "b", "slsa/v1");
    assert_json_eq(
        &got["predicate"]["materials"],
        &derived("v1-pipelinerun-structured-results.partial.json")["materials"],
    );
    for (children, want) in [
        (
            vec!["taskrun1.json", "taskrun2.json", "taskrun3.json"],
            "v1-pipelinerun1-tr123.buildconfig.partial.json",
        ),
        (
            vec![
                "taskrun1.json",
                "taskrun2.json",
                "taskrun3.json",
                "taskrun4.json",
                "taskrun5.json",
            ],
            "v1-pipelinerun1-tr12345.buildconfig.partial.json",
        ),
    ] {
        let mut names = vec!["pipelinerun1.json"];
        names.extend(children);
        let inputs = pv1(&names);
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let got = generated_as(&inputs, "b", "slsa/v1");
        assert_json_eq(
            &got["predicate"]["buildConfig"],
            &derived(want)["buildConfig"],
        );
    }
}

/// Drop what Chains' e2e test does not compare: `internalParameters` and
/// `environment` entries at any depth (`tests/fixtures/e2e/README.md`).
fn without_ignored(mut v: Value) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(map) => {
                map.remove("internalParameters");
                map.remove("environment");
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut v);
    v
}

#[test]
fn chains_e2e_templates_match() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/e2e");
    let cases = [
        ("task-output-image", "v1", "slsa/v1", false),
        ("pipeline-output-image", "v1", "slsa/v1", false),
        ("task-output-image", "v2alpha3", "slsa/v2alpha3", false),
        ("pipeline-output-image", "v2alpha3", "slsa/v2alpha3", false),
        ("task-output-image", "v2alpha4", "slsa/v2alpha4", false),
        ("pipeline-output-image", "v2alpha4", "slsa/v2alpha4", false),
        (
            "task-with-object-type-hinting",
            "v2alpha4",
            "slsa/v2alpha4",
            false,
        ),
        (
            "pipeline-with-object-type-hinting",
            "v2alpha4",
            "slsa/v2alpha4",
            false,
        ),
        (
            "pipeline-with-repeated-results",
            "v2alpha4",
            "slsa/v2alpha4",
            true,
        ),
    ];
    for (record, dir, format, deep) in cases {
        let input = root.join(format!("records/{record}.json"));
        let got = generated_with(
            &[input.to_str().expect("utf-8 path")],
            "https://tekton.dev/chains/v2",
            format,
            deep,
        );
        let want: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join(format!("expected/{dir}/{record}.json")))
                .expect("expected"),
        )
        .expect("JSON");
        assert_json_eq(&without_ignored(got), &without_ignored(want));
    }
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
