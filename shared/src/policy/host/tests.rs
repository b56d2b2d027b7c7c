use proptest::prelude::*;

use super::*;

fn pattern(text: &str) -> HostPattern {
    HostPattern::parse(text).expect("valid pattern")
}

fn host(text: &str) -> Host {
    Host::parse(text).expect("valid host")
}

/// Whether `label` is an ordinary LDH label: IDNA reserves every label with `--` in its third
/// and fourth positions (RFC 5891 §4.2.3.1), and one that starts `xn--` must be valid punycode,
/// so the parser rightly refuses most of them. Generators offer only labels outside that set.
fn ordinary(label: &str) -> bool {
    label.get(2..4) != Some("--")
}

/// One DNS label: lowercase letters, digits and inner `-`, never a reserved (`??--`) label.
fn label() -> impl Strategy<Value = String> {
    "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?".prop_filter("reserved IDNA label", |l| ordinary(l))
}

/// A name and a label to glue in front of it, such that the glued first label is ordinary too
/// (`xn--` + `--4a...` would otherwise make one that is not).
fn name_and_glue() -> impl Strategy<Value = (String, String)> {
    (name(), label()).prop_filter("glued label is reserved", |(suffix, glue)| {
        ordinary(&format!("{glue}{suffix}"))
    })
}

/// A host name: one to three labels and an alphabetic top-level label (an all-numeric last
/// label makes the name an IPv4 address under the URL standard).
fn name() -> impl Strategy<Value = String> {
    (prop::collection::vec(label(), 1..4), "[a-z]{2,6}")
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
}

/// The same name with its ASCII letters' case changed at random.
fn recase(name: &str, flips: &[bool]) -> String {
    name.chars()
        .zip(flips.iter().cycle())
        .map(|(c, flip)| if *flip { c.to_ascii_uppercase() } else { c })
        .collect()
}

proptest! {
    #[test]
    fn exact_patterns_ignore_case_and_one_trailing_dot(n in name(), flips in prop::collection::vec(any::<bool>(), 1..8), dot in any::<bool>()) {
        let mut sent = recase(&n, &flips);
        if dot { sent.push('.'); }
        prop_assert!(pattern(&n).matches(&host(&sent)));
    }

    #[test]
    fn wildcard_matches_every_strict_subdomain(suffix in name(), sub in prop::collection::vec(label(), 1..3)) {
        let full = format!("{}.{}", sub.join("."), suffix);
        let wildcard = pattern(&format!("*.{suffix}"));
        prop_assert!(wildcard.matches(&host(&full)));
    }

    #[test]
    fn wildcard_never_matches_apex_or_glued_names((suffix, glue) in name_and_glue()) {
        let wildcard = pattern(&format!("*.{suffix}"));
        prop_assert!(!wildcard.matches(&host(&suffix)));
        let glued = host(&format!("{glue}{suffix}"));
        let outside = host(&format!("{suffix}.{glue}.evil"));
        prop_assert!(!wildcard.matches(&glued));
        prop_assert!(!wildcard.matches(&outside));
    }

    #[test]
    fn covers_agrees_with_matches(suffix in name(), sub in label(), deeper in label()) {
        let wide = pattern(&format!("*.{suffix}"));
        let narrow = pattern(&format!("*.{sub}.{suffix}"));
        let exact = pattern(&format!("{deeper}.{sub}.{suffix}"));
        let probe = host(&format!("{deeper}.{sub}.{suffix}"));
        prop_assert!(wide.covers(&narrow) && narrow.matches(&probe) && wide.matches(&probe));
        prop_assert!(wide.covers(&exact) && !narrow.covers(&wide));
    }

    #[test]
    fn unicode_names_match_their_punycode_pattern(labels in prop::collection::vec("[a-zäöüéßñçø]{1,8}", 1..3), tld in "[a-z]{2,4}") {
        let unicode = format!("{}.{tld}", labels.join("."));
        let ascii = idna::domain_to_ascii(&unicode).expect("valid IDN");
        let pattern = pattern(&ascii);
        prop_assert!(pattern.matches(&host(&unicode)));
        prop_assert!(pattern.matches(&host(&ascii.to_ascii_uppercase())));
        let wildcard = HostPattern::parse(&format!("*.{ascii}")).expect("wildcard");
        let below = host(&format!("www.{unicode}"));
        prop_assert!(wildcard.matches(&below));
    }

    #[test]
    fn uppercase_patterns_are_rejected_with_the_lowercase_fix(n in name(), flips in prop::collection::vec(any::<bool>(), 1..8)) {
        // At least one letter changes: the top-level label is all letters, so its last one can.
        let mut upper = recase(&n, &flips);
        if upper == n {
            upper = format!("{}{}", &n[..n.len() - 1], n[n.len() - 1..].to_ascii_uppercase());
        }
        let error = HostPattern::parse(&upper).expect_err("uppercase must be rejected");
        prop_assert_eq!(error.fix(), Some(n.as_str()));
    }
}

proptest! {
    /// The generators make only names the parser accepts, as pattern and as host alike.
    #[test]
    fn generated_names_are_valid_hosts_and_patterns((suffix, glue) in name_and_glue(), sub in label()) {
        for text in [suffix.clone(), format!("{glue}{suffix}"), format!("{sub}.{suffix}")] {
            prop_assert!(Host::parse(&text).is_ok(), "host {text}");
            prop_assert!(HostPattern::parse(&text).is_ok(), "pattern {text}");
        }
    }
}

/// The case that once failed CI: `xn----k---4a` glued to `10s6.mh` is a reserved label that is
/// not valid punycode. The parser refuses it, and the generators no longer offer it.
#[test]
fn reserved_labels_are_refused_and_never_generated() {
    let glued = "xn----k---4a10s6.mh";
    assert!(Host::parse(glued).is_err());
    assert!(HostPattern::parse("xn----k---4a.10s6.mh").is_err());
    assert!(!ordinary(glued));
    assert!(!ordinary("xn----k---4a"));
    assert!(ordinary("10s6") && ordinary("a-b--c"));
}

#[test]
fn punycode_and_unicode_hosts_meet() {
    let p = pattern("xn--bcher-kva.example");
    assert!(p.matches(&host("bücher.example")));
    assert!(p.matches(&host("XN--BCHER-KVA.example.")));
    let error = HostPattern::parse("bücher.example").expect_err("unicode must be rejected");
    assert_eq!(error.fix(), Some("xn--bcher-kva.example"));
}

#[test]
fn ip_literals_in_any_notation_normalise_before_matching() {
    let loopback = pattern("127.0.0.1");
    for notation in ["127.0.0.1", "2130706433", "0x7f.1", "0177.0.0.1", "127.1"] {
        assert!(loopback.matches(&host(notation)), "{notation}");
    }
    assert!(pattern("::1").matches(&host("[::1]")));
    assert!(!loopback.matches(&host("localhost")));
    assert_eq!(
        HostPattern::parse("0x7f.1").map_err(|e| e.fix().map(str::to_owned)),
        Err(Some("127.0.0.1".to_owned()))
    );
}

#[test]
fn names_with_scheme_port_or_path_are_rejected_with_the_bare_host() {
    for text in [
        "https://api.github.com/repos",
        "api.github.com:443",
        "user@api.github.com",
    ] {
        let error = HostPattern::parse(text).expect_err(text);
        assert_eq!(error.fix(), Some("api.github.com"), "{text}");
    }
}

#[test]
fn names_ending_in_a_numeric_label_are_rejected() {
    assert!(matches!(
        HostPattern::parse("host.8"),
        Err(HostPatternError::BadLabel { .. })
    ));
    assert!(matches!(
        HostPattern::parse("*.0x10"),
        Err(HostPatternError::BadLabel { .. })
    ));
}

#[test]
fn only_prefix_wildcards_are_accepted() {
    assert!(matches!(
        HostPattern::parse("api.*.com"),
        Err(HostPatternError::BadWildcard { .. })
    ));
    assert!(matches!(
        HostPattern::parse("*"),
        Err(HostPatternError::BadWildcard { .. })
    ));
    assert_eq!(
        HostPattern::parse("*example.com").map_err(|e| e.fix().map(str::to_owned)),
        Err(Some("*.example.com".to_owned()))
    );
}

#[test]
fn public_suffix_wildcards_are_flagged() {
    for broad in ["*.com", "*.co.uk", "*.github.io"] {
        assert!(pattern(broad).is_public_suffix_wildcard(), "{broad}");
    }
    for fine in ["*.example.com", "*.example.co.uk", "api.com"] {
        assert!(!pattern(fine).is_public_suffix_wildcard(), "{fine}");
    }
}
