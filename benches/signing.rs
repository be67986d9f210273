//! Local signing per key type: one DSSE-sized message (4 KiB), signed with each key
//! file format chainseal loads. Results in BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;

use chainseal::signing::{KeyFileSigner, Signer as _};
use criterion::{Criterion, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let message = vec![b'x'; 4096];
    for (name, file) in [
        ("ECDSA P-256", "examples/demo.key"),
        ("ECDSA P-384", "tests/fixtures/keys/p384-sec1.pem"),
        ("Ed25519", "tests/fixtures/keys/ed25519.pem"),
        ("RSA 2048", "tests/fixtures/keys/rsa2048.pem"),
    ] {
        let signer = KeyFileSigner::load(&root.join(file), None).expect("key loads");
        c.bench_function(&format!("sign 4 KiB, {name}"), |b| {
            b.iter(|| {
                rt.block_on(signer.sign(black_box(&message)))
                    .expect("signs")
            });
        });
    }
    let pem = std::fs::read(root.join("examples/demo.key")).expect("key");
    c.bench_function("load ECDSA P-256 PKCS#8 key", |b| {
        b.iter(|| KeyFileSigner::from_pem(Path::new("k"), black_box(&pem), None).expect("loads"));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
