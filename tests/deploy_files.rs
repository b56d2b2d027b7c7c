//! The deployment files in deploy/, checked offline:
//! - the Kubernetes manifests against the API's schemas, strictly (`kubernetes-validate
//!   --strict`, from PyPI), and the Tollgate configuration inside their ConfigMaps with
//!   Tollgate's own strict loaders;
//! - the compose file with the Compose Specification's validator (`compose-spec`, from PyPI),
//!   and the configuration files it mounts with Tollgate's loaders;
//! - the systemd units with `systemd-analyze verify` (no warning allowed) and their exposure
//!   with `systemd-analyze security --offline`.
//!
//! Each validator is also shown a broken copy and must refuse it, so that a validator that
//! accepts anything cannot pass this test.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{python, repo};
use tollgate_broker::config::BrokerConfig;
use tollgate_proxy::config::ProxyConfig;

fn venv_bin(name: &str) -> PathBuf {
    repo().join(".venv/bin").join(name)
}

fn kubernetes_validate(files: &[PathBuf]) -> Output {
    Command::new(venv_bin("kubernetes-validate"))
        .args(["--strict", "--no-warn"])
        .args(files)
        .output()
        .expect("kubernetes-validate (deploy/setup.sh installs it)")
}

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("deploy/kubernetes"))
        .expect("deploy/kubernetes")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// Runs Python with PyYAML (from the venv) on `code`, with `args`.
fn py(code: &str, args: &[&Path]) -> Output {
    Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python")
}

#[test]
fn the_kubernetes_manifests_validate_strictly_and_their_configuration_loads() {
    let files = manifests();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    for expected in [
        "proxy.yaml",
        "broker.yaml",
        "networkpolicy.yaml",
        "ca.yaml",
        "redis.yaml",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing");
    }
    let out = kubernetes_validate(&files);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The control: an unknown field in a container is refused.
    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("proxy.yaml");
    let text = std::fs::read_to_string(repo().join("deploy/kubernetes/proxy.yaml")).expect("read");
    std::fs::write(
        &broken,
        text.replacen(
            "          image: ",
            "          imagePullPolcy: Always\n          image: ",
            1,
        ),
    )
    .expect("write");
    assert!(
        !kubernetes_validate(&[broken]).status.success(),
        "a broken manifest passed"
    );

    // The configuration files inside the ConfigMaps load with Tollgate's own loaders.
    let extract = r#"
import sys, yaml, pathlib
out = pathlib.Path(sys.argv[1])
for path in sys.argv[2:]:
    for doc in yaml.safe_load_all(open(path)):
        if doc and doc.get("kind") == "ConfigMap":
            for key, value in (doc.get("data") or {}).items():
                if key.endswith(".toml"):
                    (out / key).write_text(value)
"#;
    let mut args: Vec<&Path> = vec![dir.path()];
    args.extend(files.iter().map(PathBuf::as_path));
    let out = py(extract, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let proxy = ProxyConfig::load(&dir.path().join("proxy.toml")).expect("the proxy's ConfigMap");
    assert_eq!(proxy.listen, "0.0.0.0:3128");
    assert!(proxy.broker.is_some() && proxy.budgets.redis.is_some());
    BrokerConfig::load(&dir.path().join("broker.toml")).expect("the broker's ConfigMap");
}

#[test]
fn the_compose_file_validates_and_its_configuration_loads() {
    let compose = repo().join("deploy/compose/compose.yaml");
    let validate =
        "import sys, compose_spec\ncompose_spec.PyCompose.from_yaml(open(sys.argv[1]).read()).validate()\n";
    let out = py(validate, &[&compose]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let dir = tempfile::tempdir().expect("tempdir");
    let broken = dir.path().join("compose.yaml");
    let text = std::fs::read_to_string(&compose).expect("read");
    std::fs::write(
        &broken,
        text.replacen("    networks: [sandbox]\n", "    networks: [outside]\n", 1),
    )
    .expect("write");
    assert!(
        !py(validate, &[&broken]).status.success(),
        "a broken compose file passed"
    );

    ProxyConfig::load(&repo().join("deploy/compose/proxy.toml")).expect("compose proxy.toml");
    BrokerConfig::load(&repo().join("deploy/compose/broker.toml")).expect("compose broker.toml");
}

/// The units, with `ExecStart` pointing at the binary under test (verify checks that it exists).
fn units_in(dir: &Path) -> Vec<PathBuf> {
    ["tollgate-proxy.service", "tollgate-broker.service"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(repo().join("deploy/systemd").join(name)).expect("unit");
            assert!(text.contains("ExecStart=/usr/local/bin/tollgate "));
            let path = dir.join(name);
            std::fs::write(
                &path,
                text.replace("/usr/local/bin/tollgate", env!("CARGO_BIN_EXE_tollgate")),
            )
            .expect("write");
            path
        })
        .collect()
}

fn verify(units: &[PathBuf]) -> Output {
    Command::new("systemd-analyze")
        .arg("verify")
        .args(units)
        .output()
        .expect("systemd-analyze")
}

#[test]
fn the_systemd_units_verify_without_a_warning_and_are_hardened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let units = units_in(dir.path());
    let out = verify(&units);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "{said}");

    // The control: a misspelt directive is only a warning to systemd, and this test refuses it.
    let text = std::fs::read_to_string(&units[0]).expect("read");
    std::fs::write(
        &units[0],
        text.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"),
    )
    .expect("write");
    let out = verify(&units[..1]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).trim().is_empty(),
        "systemd-analyze said nothing of a misspelt directive"
    );

    for unit in &units_in(dir.path()) {
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--threshold=20"])
            .arg(unit)
            .output()
            .expect("systemd-analyze security");
        let said = String::from_utf8_lossy(&out.stdout);
        let level: f64 = said
            .lines()
            .find_map(|l| l.split("Overall exposure level for ").nth(1))
            .and_then(|l| l.split(": ").nth(1))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no exposure level in:\n{said}"));
        // systemd's scale: 0 (locked down) to 10 (unprotected); "OK" is below 2.
        assert!(level <= 2.0, "{}: exposure {level}", unit.display());
    }
}
