//! Criterion benchmarks of the attest pipeline on a generated PipelineRun with 50
//! TaskRuns (`benches/gen_pipelinerun.py`): loading the record, generating the
//! Statement, and the whole in-process run (file key, file storage); and generation
//! for 200 TaskRuns with deep inspection.
//! Whole-process time and peak memory: `scripts/bench`.

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;

use chainseal::attest;
use chainseal::config::AttestConfig;
use chainseal::provenance::{Options, generate};
use chainseal::record::tekton::load;
use chainseal::signing::{KeyRef, PasswordSource};
use chainseal::storage::StorageTarget;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn record(dir: &std::path::Path, tasks: usize) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join("benches/gen_pipelinerun.py"))
        .arg(tasks.to_string())
        .arg("json")
        .output()
        .expect("python3 runs the generator");
    assert!(out.status.success(), "generator failed");
    let path = dir.join(format!("pipelinerun-{tasks}.json"));
    std::fs::write(&path, out.stdout).expect("write record");
    path
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = record(dir.path(), 50);
    let paths = vec![path.clone()];
    let rec = load(&paths).expect("record loads");
    let options = Options::new("https://tekton.dev/chains/v2");

    c.bench_function("load 50-task PipelineRun (JSON List)", |b| {
        b.iter(|| load(black_box(&paths)).expect("loads"));
    });
    c.bench_function("generate SLSA v1.0 for 50-task PipelineRun", |b| {
        b.iter(|| generate(black_box(&rec), &options).expect("generates"));
    });

    // Issue #3: 200 TaskRuns with deep inspection, both SLSA 1.0 and 0.2.
    let big = vec![record(dir.path(), 200)];
    let big_rec = load(&big).expect("record loads");
    for format in ["slsa/v1.0", "slsa/v0.2"] {
        let mut deep = Options::new("https://tekton.dev/chains/v2");
        deep.deep_inspection = true;
        deep.format = format.parse().expect("format");
        c.bench_function(
            &format!("generate {format} for 200-task PipelineRun, deep inspection"),
            |b| {
                b.iter(|| generate(black_box(&big_rec), &deep).expect("generates"));
            },
        );
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    c.bench_function(
        "attest 50-task PipelineRun (load, generate, sign, store)",
        |b| {
            b.iter_batched(
                || {
                    let out = tempfile::tempdir().expect("tmp");
                    let cfg = AttestConfig {
                        record: chainseal::config::RecordSource::Files(paths.clone()),
                        namespace: None,
                        result_locations: None,
                        result_subjects: None,
                        signer: Some(chainseal::signing::Settings {
                            kms: Default::default(),
                            key: KeyRef::File(root.join("examples/demo.key")),
                            password: PasswordSource::None,
                            keyless: Default::default(),
                        }),
                        publish: chainseal::attest::Publish {
                            transparency: Default::default(),
                            storage: vec![StorageTarget::Dir(out.path().to_owned())],
                            stores: Default::default(),
                        },
                        provenance: Options::new("https://tekton.dev/chains/v2"),
                        subjects: Default::default(),
                        env: Default::default(),
                        github_oidc_issuer: String::new(),
                        show_summary: false,
                        dotenv: PathBuf::new(),
                        output: Default::default(),
                        dry_run: false,
                        custom: None,
                        explain: false,
                    };
                    (out, cfg)
                },
                |(_out, cfg)| rt.block_on(attest::run(&cfg)).expect("attests"),
                BatchSize::PerIteration,
            );
        },
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
