//! `chainseal verify`: the request from the flags, the report on stdout (text or JSON),
//! and, with `--vsa`, a signed Verification Summary Attestation per verified subject.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use chainseal::cli::VerifyArgs;
use chainseal::error_text::joined;
use chainseal::verify::outcome::{Checked, Item};
use chainseal::verify::policy::{self, Policy, Requirements, RuleResult, Status};
use chainseal::verify::{self, PredicateTypes, Verdict, vsa};
use serde_json::{Value, json};

use crate::run::runtime;

pub(crate) fn verify(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let json_output = match args.format.trim() {
        "text" | "" => false,
        "json" => true,
        other => anyhow::bail!(
            "`CHAINSEAL_VERIFY_FORMAT` (`--format`) is `{other}`: use `text` or `json`"
        ),
    };
    let (request, flags_doc) = verify_request(args)?;
    // The VSA settings are checked before anything is verified.
    let vsa = match args.vsa.vsa {
        true => Some(VsaPublisher::new(args)?),
        false => None,
    };
    let rt = runtime()?;
    let report = rt.block_on(verify::run(&request))?;
    // The report is shown whatever becomes of the VSAs; a VSA that could not be signed
    // or stored is then an error (exit 2), never a silent success.
    let vsas = match &vsa {
        Some(publisher) => rt.block_on(publisher.publish(&report, &request.policy, &flags_doc)),
        None => Ok(Vec::new()),
    };
    let (published, vsa_error) = match vsas {
        Ok(v) => (v, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    if json_output {
        let mut doc = report_json(&report, &published);
        if let Some(e) = &vsa_error {
            doc["vsaError"] = json!(joined(e.as_ref()));
        }
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print_report(&report);
        for v in &published {
            println!(
                "VSA {} for {}: stored in {}",
                if v.passed { "PASSED" } else { "FAILED" },
                v.subject,
                v.stored.join(", ")
            );
        }
    }
    if let Some(e) = vsa_error {
        return Err(e.context("the verification was reported, but its VSA was not written"));
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The library's request from the flags and environment, and the flags' policy as a
/// document (for a VSA's `policy`).
fn verify_request(args: &VerifyArgs) -> anyhow::Result<(verify::Request, Value)> {
    let p = &args.policy;
    if p.deny_self_hosted_runners && args.key.is_some() {
        anyhow::bail!(
            "`--deny-self-hosted-runners` reads a keyless signature's certificate: it cannot be used with `--key`"
        );
    }
    let identity = match (&args.certificate_identity, &args.certificate_identity_regexp) {
        (Some(exact), _) => Some(verify::keyless::IdentityMatch::from(exact.as_str())),
        (None, Some(re)) => Some(verify::keyless::IdentityMatch::regexp(re).with_context(|| {
            format!("`CHAINSEAL_VERIFY_CERTIFICATE_IDENTITY_REGEXP` (`--certificate-identity-regexp`) `{re}` is not a regular expression")
        })?),
        (None, None) => None,
    };
    if identity.is_none() && args.certificate_oidc_issuer.is_some() {
        anyhow::bail!(
            "`--certificate-oidc-issuer` needs `--certificate-identity` or `--certificate-identity-regexp`"
        );
    }
    let trust = verify::Trust::choose_matching(
        args.key.as_deref(),
        identity,
        args.certificate_oidc_issuer.as_deref(),
        args.trusted_root.as_deref(),
    )?;
    let target = match &args.image {
        Some(image) => verify::Target::Image {
            image: image.clone(),
            repository: args.repository.clone(),
            registry: chainseal::config::registry_settings(&args.registry)?,
        },
        None => verify::Target::Files(args.files.clone()),
    };
    let mut params = Vec::new();
    for item in p.params.iter().filter(|s| !s.trim().is_empty()) {
        let (name, value) = item.split_once('=').with_context(|| {
            format!("`--param` (`CHAINSEAL_VERIFY_PARAMS`) `{item}` is not `NAME=VALUE`")
        })?;
        params.push((name.trim().to_owned(), value.to_owned()));
    }
    let mut subject_digests: Vec<(String, String)> = p
        .subject_digest
        .iter()
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
        .map(|d| (d.to_owned(), d.to_ascii_lowercase()))
        .collect();
    for path in &p.artifact {
        let digest = policy::artifact_digest(path)?;
        subject_digests.push((format!("(--artifact {})", path.display()), digest));
    }
    let nonempty = |v: &Option<String>| chainseal::values::non_empty_owned(v.clone());
    let flags = Requirements {
        builder_id: nonempty(&p.builder_id),
        build_type: nonempty(&p.build_type),
        source_uri: nonempty(&p.source_uri),
        source_ref: nonempty(&p.source_ref),
        source_digest: nonempty(&p.source_digest),
        params,
        subject_digests,
        signer_workflow: nonempty(&p.signer_workflow),
        deny_self_hosted_runners: p.deny_self_hosted_runners,
        vsa: policy::vsa_checks::VsaRequirements {
            verifier_id: nonempty(&p.verifier_id),
            verified_levels: p
                .verified_level
                .iter()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect(),
            resource_uri: nonempty(&p.resource_uri),
        },
    };
    let flags_doc = requirements_json(&flags);
    let policy = Policy::with_files(flags, &p.policy)?;
    let wanted = wanted_types(args.predicate_type.as_deref(), &policy)?;
    Ok((
        verify::Request {
            trust,
            target,
            wanted,
            policy: Arc::new(policy),
        },
        flags_doc,
    ))
}

/// The predicate types that count: `--type` (default SLSA provenance), narrowed to
/// the types every policy file that names some allows (a flag or a second file can
/// only narrow a policy, never widen it); none left is an error.
fn wanted_types(given: Option<&str>, policy: &Policy) -> anyhow::Result<PredicateTypes> {
    let files_say = policy.files.iter().any(|f| !f.predicate_types.is_empty());
    let mut wanted = match (given, files_say) {
        // A file's types replace the default, not a `--type` given.
        (None, true) => PredicateTypes::Any,
        (given, _) => PredicateTypes::parse(given)?,
    };
    for file in policy
        .files
        .iter()
        .filter(|f| !f.predicate_types.is_empty())
    {
        let allowed: Vec<String> = match &wanted {
            PredicateTypes::Any => file.predicate_types.clone(),
            PredicateTypes::Only(types) => types
                .iter()
                .filter(|t| file.predicate_types.contains(t))
                .cloned()
                .collect(),
        };
        if allowed.is_empty() {
            anyhow::bail!(
                "no predicate type is left: `--type` (`CHAINSEAL_VERIFY_TYPE`) or another policy file allows {}, but policy file `{}` allows only {}",
                wanted.describe(),
                file.path.display(),
                file.predicate_types.join(", ")
            );
        }
        wanted = PredicateTypes::Only(allowed);
    }
    Ok(wanted)
}

/// The flags' requirements as a document (sorted keys; unset ones left out).
fn requirements_json(r: &Requirements) -> Value {
    let mut doc = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        if !(v.is_null() || v == json!([]) || v == json!(false)) {
            doc.insert(k.to_owned(), v);
        }
    };
    put("builderId", json!(r.builder_id));
    put("buildType", json!(r.build_type));
    put("sourceUri", json!(r.source_uri));
    put("sourceRef", json!(r.source_ref));
    put("sourceDigest", json!(r.source_digest));
    put("params", json!(r.params));
    put(
        "subjectDigests",
        json!(r.subject_digests.iter().map(|(_, d)| d).collect::<Vec<_>>()),
    );
    put("signerWorkflow", json!(r.signer_workflow));
    put("denySelfHostedRunners", json!(r.deny_self_hosted_runners));
    put("verifierId", json!(r.vsa.verifier_id));
    put("verifiedLevels", json!(r.vsa.verified_levels));
    put("resourceUri", json!(r.vsa.resource_uri));
    Value::Object(doc)
}

/// A VSA that was signed and stored.
struct PublishedVsa {
    subject: String,
    passed: bool,
    stored: Vec<String>,
}

/// Signs and stores VSAs as attest signs and stores provenance.
struct VsaPublisher {
    signer: chainseal::signing::Settings,
    publish: chainseal::attest::Publish,
    options: vsa::Options,
}

impl VsaPublisher {
    fn new(args: &VerifyArgs) -> anyhow::Result<Self> {
        let a = &args.vsa;
        let signer = chainseal::config::signer_settings(chainseal::cli::SignerArgs {
            key: a.vsa_key.clone(),
            signing_secrets: None,
            password: a.password.clone(),
            kms: a.kms.clone(),
            keyless: a.keyless.clone(),
        })?
        .context("`--vsa` needs `CHAINSEAL_VSA_KEY` (`--vsa-key`): the key that signs VSAs")?;
        let mut signer = signer;
        let publish = chainseal::config::publish_settings(
            Some(&mut signer),
            &chainseal::record::ci::Environment::capture(std::env::vars()),
            false,
            &a.transparency,
            &a.store,
            &args.registry,
            None,
        )?;
        if publish
            .storage
            .contains(&chainseal::storage::StorageTarget::Tekton)
        {
            anyhow::bail!("VSAs cannot be stored in `tekton` storage: there is no run to annotate");
        }
        Ok(Self {
            signer,
            publish,
            options: vsa::Options {
                verifier_id: a.vsa_verifier_id.trim().to_owned(),
                builder_level: a.builder_level,
                time_verified: jiff::Timestamp::now()
                    .round(jiff::Unit::Second)
                    .unwrap_or_else(|_| jiff::Timestamp::now())
                    .to_string(),
            },
        })
    }

    async fn publish(
        &self,
        report: &verify::Report,
        policy: &Policy,
        flags_doc: &Value,
    ) -> anyhow::Result<Vec<PublishedVsa>> {
        let policy_doc = vsa::policy_descriptor(policy, flags_doc);
        let summaries = vsa::summaries(report, &self.options, &policy_doc);
        if summaries.is_empty() {
            eprintln!("no VSA written: no attestation of the wanted types verified");
            return Ok(Vec::new());
        }
        // One VSA per subject, each signed, stored and perhaps logged: what the
        // attestations verified (their signers choose how many subjects) must not
        // decide that cost alone.
        if summaries.len() > MAX_VSAS {
            anyhow::bail!(
                "the verified attestations name {} subjects, and `--vsa` writes one VSA per subject, at most {MAX_VSAS}: nothing was signed or stored; with `--image`, only that image is summarised",
                summaries.len()
            );
        }
        let (signer, services) = self.publish.load_signer(&self.signer).await?;
        // Opened once for every VSA.
        let backends = self
            .publish
            .open_stores()
            .map_err(chainseal::attest::Error::Storage)?;
        let mut out = Vec::new();
        for s in summaries {
            let key = chainseal::pipeline::content_key("vsa", &s.statement);
            let generated = chainseal::provenance::Generated {
                statement: s.statement,
                findings: Vec::new(),
            };
            let stored = match chainseal::attest::finish_in(
                &self.publish,
                &backends,
                (signer.as_ref(), &services),
                generated,
                key,
                None,
                None,
            )
            .await?
            {
                chainseal::attest::Outcome::Stored { stored, .. } => stored,
                chainseal::attest::Outcome::DryRun { .. } => Vec::new(),
            };
            let subject = format!(
                "{} {}",
                s.subject.name,
                s.subject
                    .digest
                    .iter()
                    .map(|(a, h)| format!("{a}:{h}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            out.push(PublishedVsa {
                subject: subject.trim().to_owned(),
                passed: s.passed,
                stored: stored
                    .into_iter()
                    .filter(|s| s.is_place())
                    .map(|s| s.location)
                    .collect(),
            });
        }
        Ok(out)
    }
}

/// The report as one JSON document: each attestation with its signer, subjects and
/// every rule's result.
fn report_json(report: &verify::Report, vsas: &[PublishedVsa]) -> Value {
    let (checked, image) = match &report.checked {
        Checked::Envelopes => ("envelopes", None),
        Checked::Bundles => ("bundles", None),
        Checked::Image(image) => ("image", Some(image.clone())),
    };
    let attestations: Vec<Value> = report.attestations.iter().map(item_json).collect();
    let signatures: Vec<Value> = report
        .signatures
        .iter()
        .map(|o| match &o.result {
            Ok(_) => json!({"location": o.location, "verified": true}),
            Err(e) => json!({"location": o.location, "verified": false, "reason": joined(e)}),
        })
        .collect();
    let vsas: Vec<Value> = vsas
        .iter()
        .map(|v| {
            json!({
                "subject": v.subject,
                "verificationResult": if v.passed { "PASSED" } else { "FAILED" },
                "stored": v.stored,
            })
        })
        .collect();
    json!({
        "passed": report.passed(),
        "checked": checked,
        "image": image,
        "predicateTypes": report.wanted.describe(),
        "attestations": attestations,
        "imageSignatures": signatures,
        "vsas": vsas,
    })
}

fn rule_json(r: &RuleResult) -> Value {
    json!({
        "rule": r.rule,
        "status": r.status.as_str(),
        "expected": r.expected,
        "observed": r.observed,
    })
}

fn verified_json(v: &verify::Verified) -> serde_json::Map<String, Value> {
    let build_type = v
        .statement
        .get("predicate")
        .and_then(policy::facts::build_type)
        .filter(|t| !t.is_empty());
    let signer = verify::Signer::to_json(v.signer.as_ref());
    let subjects: Vec<Value> = v
        .subjects
        .iter()
        .map(|(name, digests)| json!({"name": name, "digests": digests}))
        .collect();
    let mut m = serde_json::Map::new();
    m.insert("predicateType".into(), json!(v.predicate_type));
    m.insert("builderId".into(), json!(v.builder_id));
    m.insert("buildType".into(), json!(build_type));
    m.insert("signer".into(), signer);
    m.insert("subjects".into(), Value::Array(subjects));
    m.insert("payloadDigest".into(), json!(v.payload_digest));
    m
}

fn item_json(item: &Item) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("location".into(), json!(item.location));
    match &item.verdict {
        Verdict::Counted { verified, rules } => {
            let passed = item.verdict.passed();
            m.insert("verified".into(), json!(true));
            m.insert(
                "result".into(),
                json!(if passed { "passed" } else { "failed-policy" }),
            );
            m.extend(verified_json(verified));
            m.insert(
                "rules".into(),
                Value::Array(rules.iter().map(rule_json).collect()),
            );
        }
        Verdict::Skipped(verified) => {
            m.insert("verified".into(), json!(true));
            m.insert("result".into(), json!("skipped"));
            m.extend(verified_json(verified));
        }
        Verdict::Failed(reason) => {
            m.insert("verified".into(), json!(false));
            m.insert("result".into(), json!("rejected"));
            m.insert("reason".into(), json!(joined(reason)));
        }
    }
    Value::Object(m)
}

/// Each item on stdout (verified, skipped or FAILED), then the summary on stderr.
fn print_report(report: &verify::Report) {
    for item in &report.attestations {
        print_item(item);
    }
    for o in &report.signatures {
        match &o.result {
            Ok(_) => println!("verified image signature {}", o.location),
            Err(reason) => println!("FAILED image signature {}: {}", o.location, joined(reason)),
        }
    }
    print_summary(report);
}

/// One attestation: what it says when it counted, else why not.
fn print_item(item: &Item) {
    use chainseal::error_text::escaped;
    let location = escaped(item.location.chars());
    match &item.verdict {
        Verdict::Counted { verified, rules } => {
            let failed: Vec<&RuleResult> = rules
                .iter()
                .filter(|r| r.status != Status::Passed)
                .collect();
            if failed.is_empty() {
                println!("verified {location}");
            } else {
                println!(
                    "FAILED {location}: signature verified, but {} of {} policy rule(s) did not pass",
                    failed.len(),
                    rules.len()
                );
            }
            print_verified(verified);
            if let Some(signer) = &verified.signer {
                println!(
                    "  signer: {} (issuer {})",
                    escaped(signer.identity.chars()),
                    escaped(signer.issuer.as_deref().unwrap_or("?").chars())
                );
            }
            for r in rules {
                let (rule, expected, observed) = (
                    escaped(r.rule.chars()),
                    escaped(r.expected.chars()),
                    escaped(r.observed.chars()),
                );
                match r.status {
                    Status::Passed => println!("  policy {rule}: passed ({observed})"),
                    Status::Failed => {
                        println!("  policy {rule}: FAILED: expected {expected}, found {observed}")
                    }
                    Status::Error => {
                        println!("  policy {rule}: FAILED: cannot be checked: {observed}")
                    }
                }
            }
        }
        Verdict::Skipped(v) => println!(
            "skipped {location} (predicate type {})",
            escaped(v.predicate_type.chars())
        ),
        Verdict::Failed(reason) => println!("FAILED {location}: {}", joined(reason)),
    }
}

/// The most VSAs one `verify --vsa` writes (as `CHAINSEAL_MAX_SUBJECTS`' default).
const MAX_VSAS: usize = 1024;

fn print_verified(v: &verify::Verified) {
    use chainseal::error_text::escaped;
    println!("  predicate type: {}", escaped(v.predicate_type.chars()));
    if let Some(id) = &v.builder_id {
        println!("  builder id: {}", escaped(id.chars()));
    }
    for (name, digests) in &v.subjects {
        println!(
            "  subject: {} {}",
            escaped(name.chars()),
            escaped(digests.join(" ").chars())
        );
    }
}

/// The counts, and why nothing counted when that is why it failed.
fn print_summary(report: &verify::Report) {
    let skipped = match report.skipped() {
        0 => String::new(),
        n => format!(", {n} skipped (another predicate type)"),
    };
    let policy = match report.failed_policy() {
        0 => String::new(),
        n => format!(", {n} failed the policy"),
    };
    let what = match &report.checked {
        Checked::Image(image) => {
            let of_type = match &report.wanted {
                PredicateTypes::Any => String::new(),
                wanted => format!(" of type {}", wanted.describe()),
            };
            eprintln!(
                "{image}: {} attestation(s) verified{of_type}{policy}{skipped}, {} image signature(s) verified; {} item(s) rejected",
                report.counted(),
                report.signatures_verified(),
                report.rejected()
            );
            format!("attestation for {image}")
        }
        Checked::Envelopes | Checked::Bundles => {
            let what = match report.checked {
                Checked::Bundles => "bundle",
                _ => "envelope",
            };
            eprintln!(
                "{} {what}(s) verified, {} rejected{policy}{skipped}",
                report.counted(),
                report.failed()
            );
            what.to_owned()
        }
    };
    if report.nothing_counted() {
        print_nothing_counted(report, &what);
    }
}

/// Why nothing counted, naming the types found and the flag.
fn print_nothing_counted(report: &verify::Report, what: &str) {
    let found = report.skipped_types().into_iter().collect::<Vec<_>>();
    let found = if found.is_empty() {
        "none".to_owned()
    } else {
        chainseal::error_text::escaped(found.join(", ").chars())
    };
    eprintln!(
        "no {what} of type {} verified (verified but of another type: {found}): set `--type` (`CHAINSEAL_VERIFY_TYPE`) to the predicate type to check, or `--type any`",
        report.wanted.describe()
    );
}
