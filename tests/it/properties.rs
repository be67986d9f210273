//! Property tests: digest parsing, image reference normalisation and the subject merge
//! rule hold for generated inputs, and never panic on arbitrary ones.

use chainseal::provenance::digest::{Rules, parse_digest};
use chainseal::provenance::statement::{ResourceDescriptor, append_subject};
use chainseal::reference::DigestReference;
use proptest::prelude::*;

fn hex(len: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(b"0123456789abcdef".to_vec()), len)
        .prop_map(|b| String::from_utf8(b).unwrap_or_default())
}

fn alg_and_hex() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        hex(64).prop_map(|h| ("sha256".to_owned(), h)),
        hex(96).prop_map(|h| ("sha384".to_owned(), h)),
        hex(128).prop_map(|h| ("sha512".to_owned(), h)),
        hex(40).prop_map(|h| ("sha1".to_owned(), h)),
    ]
}

proptest! {
    #[test]
    fn valid_digests_parse_to_their_parts((alg, h) in alg_and_hex(), upper in any::<bool>()) {
        let written = if upper { alg.to_uppercase() } else { alg.clone() };
        let input = format!("{written}:{h}");
        prop_assert_eq!(parse_digest(&input, Rules::CHAINS), Ok((alg.as_str(), h)));
    }

    #[test]
    fn wrong_lengths_and_upper_case_hex_are_rejected((alg, h) in alg_and_hex(), cut in 1usize..8) {
        let short = format!("{alg}:{}", &h[..h.len() - cut]);
        prop_assert!(parse_digest(&short, Rules::CHAINS).is_err());
        let upper = h.to_uppercase();
        if upper != h {
            let upper = format!("{alg}:{upper}");
            prop_assert!(parse_digest(&upper, Rules::CHAINS).is_err());
        }
    }

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,200}") {
        let _ = parse_digest(&s, Rules::CHAINS);
        let _ = parse_digest(&s, Rules::SUBJECTS);
        let _ = DigestReference::parse(&s);
    }

    #[test]
    fn normalised_references_are_fixed_points(
        registry in prop_oneof![Just(""), Just("gcr.io/"), Just("docker.io/"), Just("localhost:5000/")],
        repo in "[a-z0-9]{2,10}(/[a-z0-9]{2,10}){0,2}",
        tag in proptest::option::of("[A-Za-z0-9_.-]{1,20}"),
        h in hex(64),
    ) {
        let tag = tag.map(|t| format!(":{t}")).unwrap_or_default();
        let input = format!("{registry}{repo}{tag}@sha256:{h}");
        let first = DigestReference::parse(&input);
        prop_assert!(first.is_ok(), "{:?}", first);
        let first = first.unwrap_or_else(|_| unreachable!());
        let again = DigestReference::parse(&first.to_string());
        prop_assert_eq!(again, Ok(first.clone()));
        prop_assert!(first.name().contains('/'));
        prop_assert!(!first.name().contains('@'));
    }

    #[test]
    fn merged_subjects_keep_every_digest_in_first_appearance_order(
        items in proptest::collection::vec(
            (0u8..4, proptest::collection::btree_map(prop_oneof![Just("sha256"), Just("sha512")], 0u8..3, 1..3)),
            0..20,
        )
    ) {
        let mut list = Vec::new();
        for (name, digests) in &items {
            append_subject(&mut list, ResourceDescriptor {
                name: format!("img{name}"),
                digest: digests.iter().map(|(a, h)| ((*a).to_owned(), h.to_string())).collect(),
                ..ResourceDescriptor::default()
            });
        }
        // Nothing is lost: each input item's algorithms all sit in one output entry of
        // the same name (merging adds digests; as in Chains, a later value for the same
        // algorithm overwrites the earlier one).
        prop_assert!(list.len() <= items.len());
        for (name, digests) in &items {
            let want = format!("img{name}");
            let held = list.iter().any(|d| {
                d.name == want && digests.keys().all(|a| d.digest.contains_key(*a))
            });
            prop_assert!(held, "{} {:?} lost in {:?}", want, digests, list);
        }
        // Order of first appearance is kept.
        let mut first_seen: Vec<String> = Vec::new();
        for (name, _) in &items {
            let n = format!("img{name}");
            if !first_seen.contains(&n) {
                first_seen.push(n);
            }
        }
        let mut out_order: Vec<String> = Vec::new();
        for d in &list {
            if !out_order.contains(&d.name) {
                out_order.push(d.name.clone());
            }
        }
        prop_assert_eq!(out_order, first_seen);
    }
}
