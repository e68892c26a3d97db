//! Every decoder and parser of bytes that come from outside — manifests read back from
//! storage, entry paths, references, digests, names, upload checkpoints — fed arbitrary
//! input: none panics, and what one accepts keeps the rules it promises.

use cairn_core::{
    Digest, EntryPath, HashCheckpoint, ManifestDecoder, ManifestWriter, Reference, Selector, validate_alias,
    validate_artifact, validate_distributed_id, validate_project, validate_request_id, validate_type,
    validate_writer_id,
};
use proptest::prelude::*;

/// Decodes `bytes` fed in pieces cut at `cuts`; the entries, or the first error.
fn decode(bytes: &[u8], cuts: &[usize]) -> Result<Vec<cairn_core::Entry>, cairn_core::CoreError> {
    let mut decoder = ManifestDecoder::new();
    let mut entries = Vec::new();
    let mut at = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    points.push(bytes.len());
    for point in points {
        entries.extend(decoder.feed(&bytes[at..point.max(at)])?);
        at = point.max(at);
    }
    decoder.finish(&Digest::of(bytes))?;
    Ok(entries)
}

/// Arbitrary bytes that often look like a manifest: the header and lines of the format,
/// with garbage mixed in.
fn manifest_like() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        "[0-9a-f]{64} [0-9]{1,5} [a-z/.]{1,12}\n",
        "[0-9a-f]{0,70} -?[0-9]{0,21} [^\n]{0,20}\n",
        "[^\n]{0,40}\n",
        any::<Vec<u8>>().prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
    ];
    (any::<bool>(), proptest::collection::vec(line, 0..12)).prop_map(|(header, lines)| {
        let mut out = if header { b"cairn-manifest-v1\n".to_vec() } else { Vec::new() };
        for line in lines {
            out.extend_from_slice(line.as_bytes());
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn a_manifest_decoder_never_panics_and_accepts_only_canonical_manifests(
        bytes in manifest_like(),
        cuts in proptest::collection::vec(any::<usize>(), 0..4),
    ) {
        if let Ok(entries) = decode(&bytes, &cuts) {
            // Accepted bytes are exactly what the writer makes of the entries.
            let mut writer = ManifestWriter::new();
            for entry in &entries {
                writer.push(entry).unwrap();
            }
            let (digest, encoded, files, _) = writer.finish();
            prop_assert_eq!(&encoded, &bytes);
            prop_assert_eq!(digest, Digest::of(&bytes));
            prop_assert_eq!(files, entries.len() as u64);
        }
    }

    #[test]
    fn a_valid_manifest_with_one_byte_changed_is_refused(
        names in proptest::collection::btree_set("f[a-z]{0,6}(/f[a-z]{0,6}){0,2}", 1..20),
        at in any::<usize>(),
        flip in 1u8..=255,
    ) {
        let mut writer = ManifestWriter::new();
        for (i, name) in names.iter().enumerate() {
            let entry = cairn_core::Entry {
                path: EntryPath::parse(name).unwrap(),
                sha256: Digest::of(name.as_bytes()),
                size: i as u64,
            };
            writer.push(&entry).unwrap();
        }
        let (digest, mut bytes, _, _) = writer.finish();
        let at = at % bytes.len();
        bytes[at] ^= flip;
        let mut decoder = ManifestDecoder::new();
        let refused = decoder.feed(&bytes).and_then(|_| decoder.finish(&digest));
        prop_assert!(refused.is_err());
    }

    #[test]
    fn an_accepted_entry_path_stays_inside_and_is_portable(text in any::<String>()) {
        if let Ok(path) = EntryPath::parse(&text) {
            let s = path.as_str();
            prop_assert!(!s.is_empty() && s.len() <= 1024);
            prop_assert!(!s.starts_with('/') && !s.contains('\\') && !s.contains(':'));
            prop_assert!(!s.chars().any(char::is_control));
            prop_assert!(s.split('/').all(|part| !part.is_empty() && part != "." && part != ".."));
        }
    }

    #[test]
    fn a_path_made_of_tricky_pieces_never_escapes(
        parts in proptest::collection::vec(prop_oneof![
            Just("..".to_owned()), Just(".".to_owned()), Just("".to_owned()), Just("C:".to_owned()),
            Just("nul.txt".to_owned()), Just("a\\b".to_owned()), Just("x\u{0}y".to_owned()), "[a-z]{1,5}",
        ], 1..6),
    ) {
        let text = parts.join("/");
        if let Ok(path) = EntryPath::parse(&text) {
            prop_assert!(path.as_str().split('/').all(|p| p != ".." && p != "." && !p.is_empty()));
        }
    }

    #[test]
    fn references_selectors_and_names_never_panic(text in any::<String>()) {
        let _ = Reference::parse(&text);
        let _ = Selector::parse(&text);
        let _ = validate_project(&text);
        let _ = validate_artifact(&text);
        let _ = validate_type(&text);
        let _ = validate_alias(&text);
        let _ = validate_distributed_id(&text);
        let _ = validate_request_id(&text);
        let _ = validate_writer_id(&text);
    }

    #[test]
    fn a_digest_parses_only_from_64_lowercase_hex_characters(text in "[0-9a-fA-FxZ]{60,68}|\\PC{0,70}") {
        let accepted = Digest::parse_hex(&text).is_ok();
        let canonical = text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        prop_assert_eq!(accepted, canonical);
        if accepted {
            prop_assert_eq!(Digest::parse_hex(&text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn an_upload_checkpoint_decodes_only_from_its_own_encoding(bytes in proptest::collection::vec(any::<u8>(), 0..60)) {
        if let Ok(checkpoint) = HashCheckpoint::from_bytes(&bytes) {
            prop_assert_eq!(bytes.len(), 40);
            prop_assert_eq!(checkpoint.to_bytes(), bytes);
        }
    }
}

#[test]
fn sizes_with_a_sign_or_leading_zeros_are_not_canonical_and_are_refused() {
    // Found by the decoder property above: "00" was read as 0, so two byte strings (and
    // two digests) decoded to one manifest.
    let digest = Digest::of(b"x").to_string();
    for size in ["00", "007", "+7", "-0", "", " 7"] {
        let bytes = format!("cairn-manifest-v1\n{digest} {size} a\n");
        let mut decoder = ManifestDecoder::new();
        let err = decoder.feed(bytes.as_bytes()).expect_err(size);
        assert_eq!(err.reason(), "CORRUPT_MANIFEST", "{size:?}: {err}");
    }
    let canonical = format!("cairn-manifest-v1\n{digest} 0 a\n");
    assert_eq!(ManifestDecoder::new().feed(canonical.as_bytes()).unwrap().len(), 1);
}
