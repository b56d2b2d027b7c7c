//! End-to-end tests of `tollgate policy ...` through the real binary, on the repository's
//! example policies and fixtures, and on real git revisions.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tollgate(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run tollgate")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Replaces exactly one occurrence of `from` in a file.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read");
    assert_eq!(
        text.matches(from).count(),
        1,
        "{from:?} must occur once in {}",
        path.display()
    );
    std::fs::write(path, text.replace(from, to)).expect("write");
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Tollgate Test",
            "-c",
            "user.email=test@tollgate.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .status()
        .expect("run git");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn check_passes_on_the_examples() {
    let out = tollgate(&repo(), &["policy", "check", "--strict", "policies"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(stdout(&out), "ok: 4 tenant(s), 0 warning(s)\n");
}

#[test]
fn check_reports_every_mistake_with_file_line_and_column() {
    let out = tollgate(&repo(), &["policy", "check", "tests/fixtures/broken"]);
    assert_eq!(code(&out), 1);
    insta::assert_snapshot!("check_broken", stdout(&out));
}

#[test]
fn lints_warn_and_strict_makes_them_fail() {
    let out = tollgate(&repo(), &["policy", "check", "tests/fixtures/lints"]);
    assert_eq!(code(&out), 0);
    insta::assert_snapshot!("check_lints", stdout(&out));
    let strict = tollgate(&repo(), &["policy", "check", "--strict", "tests/fixtures/lints"]);
    assert_eq!(code(&strict), 1);
    assert!(
        stdout(&strict).ends_with("failed: 8 error(s), 0 warning(s)\n"),
        "{}",
        stdout(&strict)
    );
}

#[test]
fn check_speaks_json_for_machines() {
    let out = tollgate(
        &repo(),
        &["policy", "check", "--format", "json", "tests/fixtures/broken"],
    );
    assert_eq!(code(&out), 1);
    let diagnostics: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let first = &diagnostics[0];
    for field in ["severity", "code", "file", "line", "column", "entity", "message"] {
        assert!(first.get(field).is_some(), "missing {field} in {first}");
    }
}

#[test]
fn misuse_exits_with_2() {
    assert_eq!(code(&tollgate(&repo(), &["policy", "check", "no/such/dir"])), 2);
    assert_eq!(
        code(&tollgate(&repo(), &["policy", "check", "--no-such-flag"])),
        2
    );
    assert_eq!(code(&tollgate(&repo(), &["policy", "diff"])), 2);
}

#[test]
fn policy_test_passes_on_the_examples() {
    let out = tollgate(&repo(), &["policy", "test", "policies"]);
    assert_eq!(code(&out), 0, "{}", stdout(&out));
    assert_eq!(stdout(&out), "22 passed, 0 failed\n");
}

#[test]
fn policy_test_catches_a_wrong_expectation() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&repo().join("policies"), dir.path());
    edit(
        &dir.path().join("tenants/acme-research.toml"),
        "request = \"POST https://api.github.com/repos/acme/widgets/issues\"\nexpect = \"deny\"\nreason = \"method_not_allowed\"",
        "request = \"POST https://api.github.com/repos/acme/widgets/issues\"\nexpect = \"allow\"",
    );
    let out = tollgate(dir.path(), &["policy", "test", "."]);
    assert_eq!(code(&out), 1);
    let text = stdout(&out);
    assert!(
        text.contains("FAIL acme-research › cannot write to GitHub (./tenants/acme-research.toml:"),
        "{text}"
    );
    assert!(
        text.contains(
            "     expected: allow\n     actual:   deny (method_not_allowed) by rule github-api-read\n"
        ),
        "{text}"
    );
    assert!(text.ends_with("21 passed, 1 failed\n"), "{text}");
}

/// A repository with the examples committed, then a commit that changes access.
fn repo_with_two_revisions() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let policies = dir.path().join("policies");
    copy_dir(&repo().join("policies"), &policies);
    git(dir.path(), &["init", "-q", "-b", "main"]);
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "base"]);
    let acme = policies.join("tenants/acme-research.toml");
    edit(
        &acme,
        "methods = [\"GET\", \"HEAD\"]\npaths = [\"/repos/\", \"/search/\", \"/user\"]",
        "methods = [\"GET\", \"HEAD\", \"POST\"]\npaths = [\"/repos/\", \"/search/\", \"/user\", \"/gists\"]",
    );
    edit(
        &acme,
        "hosts = [\"raw.githubusercontent.com\", \"codeload.github.com\"]",
        "hosts = [\"raw.githubusercontent.com\", \"codeload.github.com\", \"uploads.github.com\"]",
    );
    edit(
        &acme,
        "[budgets.invocation]\nrequests = 200",
        "[budgets.invocation]\nrequests = 2000",
    );
    edit(
        &acme,
        "mode = \"enforce\"\ndescription",
        "mode = \"report\"\nprovenance = \"fail-open\"\ndescription",
    );
    edit(
        &acme,
        "[[tools]]\nname = \"summarizer\"\n",
        "[[tools]]\nname = \"summarizer\"\n\n[[tools.credentials]]\nname = \"anthropic-key\"\nsource = \"vault-kv\"\npath = \"secret/data/acme-research/anthropic\"\nfield = \"api_key\"\nttl = \"1h\"\ndelivery = \"direct\"\n",
    );
    let globex = policies.join("tenants/globex-payments.toml");
    edit(
        &globex,
        "disable = [\"generic-secret\"]",
        "disable = [\"generic-secret\", \"jwt\"]",
    );
    edit(&globex, "traffic = \"tunnel\"\n", "");
    std::fs::remove_file(policies.join("tenants/initech-ops.toml")).expect("remove");
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-q", "-m", "widen"]);
    dir
}

#[test]
fn diff_between_git_revisions_says_what_access_changed() {
    let dir = repo_with_two_revisions();
    let out = tollgate(dir.path(), &["policy", "diff", "HEAD~1", "policies"]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    insta::assert_snapshot!("diff_text", stdout(&out));
    let markdown = tollgate(
        dir.path(),
        &["policy", "diff", "--format", "markdown", "HEAD~1", "policies"],
    );
    insta::assert_snapshot!("diff_markdown", stdout(&markdown));
}

#[test]
fn diff_against_a_directory_matches_diff_against_the_revision() {
    let dir = repo_with_two_revisions();
    let base = tempfile::tempdir().expect("tempdir");
    copy_dir(&repo().join("policies"), base.path());
    let by_dir = tollgate(
        dir.path(),
        &["policy", "diff", base.path().to_str().expect("utf-8"), "policies"],
    );
    let by_rev = tollgate(dir.path(), &["policy", "diff", "HEAD~1", "policies"]);
    assert_eq!(code(&by_dir), 0);
    assert_eq!(stdout(&by_dir), stdout(&by_rev));
    let same = tollgate(dir.path(), &["policy", "diff", "HEAD", "policies"]);
    assert_eq!(stdout(&same), "No access changes.\n");
}

#[test]
fn diff_of_an_unknown_revision_is_misuse() {
    let dir = repo_with_two_revisions();
    let out = tollgate(dir.path(), &["policy", "diff", "no-such-rev", "policies"]);
    assert_eq!(code(&out), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither a directory nor a git revision"));
}

#[test]
fn explain_shows_each_rule_and_the_deciding_one() {
    let denied = tollgate(
        &repo(),
        &[
            "policy",
            "explain",
            "--tenant",
            "acme-research",
            "--tool",
            "github-reader",
            "GET",
            "https://api.github.com/orgs/acme/members",
        ],
    );
    assert_eq!(code(&denied), 0);
    insta::assert_snapshot!("explain_denied", stdout(&denied));
    let allowed = tollgate(
        &repo(),
        &[
            "policy",
            "explain",
            "--tenant",
            "acme-research",
            "--tool",
            "github-reader",
            "GET",
            "https://API.GitHub.com./repos/acme/x",
        ],
    );
    insta::assert_snapshot!("explain_allowed", stdout(&allowed));
    let report = tollgate(
        &repo(),
        &[
            "policy",
            "explain",
            "--tenant",
            "globex-payments",
            "--tool",
            "stripe-billing",
            "DELETE",
            "https://api.stripe.com/v1/customers/cus_1",
        ],
    );
    assert!(
        stdout(&report)
            .contains("DENY (report mode: logged, not enforced), reason method_not_allowed, rule stripe-api"),
        "{}",
        stdout(&report)
    );
}
