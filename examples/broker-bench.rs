//! Broker latency against the raw OpenBao calls it makes, in the same run, and the proxy's
//! cached identity check. Run by `deploy/bench-broker.sh`, which starts OpenBao, PostgreSQL
//! and the broker and passes their addresses:
//!
//! `broker-bench BAO_ADDR ROOT_TOKEN CONTROL_URL CONTROL_TOKEN PROXY_TOKEN SOCKET N`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tollgate_broker::client::{self, Control};
use tollgate_broker::config::VaultConfig;
use tollgate_broker::vault::{TokenRequest, Vault};
use tollgate_proxy::identity::{BrokerIdentities, BrokerSettings, IdentitySource};
use tollgate_shared::detect::{Engine, FingerprintKey};
use tollgate_shared::invocation::{SecretText, StartRequest};

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index.min(samples.len() - 1)]
}

fn report(name: &str, samples: &mut [Duration]) -> (Duration, Duration) {
    let (p50, p99) = (percentile(samples, 0.5), percentile(samples, 0.99));
    println!(
        "| {name:<34} | {:>9.3} | {:>9.3} |",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    (p50, p99)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, bao, root, control_url, control_token, proxy_token, socket, n] = &args[..] else {
        return Err(
            "usage: broker-bench BAO_ADDR ROOT_TOKEN CONTROL_URL CONTROL_TOKEN PROXY_TOKEN SOCKET N".into(),
        );
    };
    let n: usize = n.parse()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let vault = Vault::new(&VaultConfig {
        address: bao.clone(),
        ..VaultConfig::default()
    })?;
    let root = SecretText::new(root.as_str());
    let control = Control::new(control_url, control_token)?;
    let socket = PathBuf::from(socket);

    println!("| operation (n = {n:<5})               | p50 ms    | p99 ms    |");
    println!("|------------------------------------|-----------|-----------|");
    // Raw OpenBao: what `start` costs the server (a child token), and a KV read under it.
    let mut raw_token = Vec::new();
    let mut raw_kv = Vec::new();
    for i in 0..n {
        let request = TokenRequest {
            policies: vec!["tollgate-bench-fetch".to_owned()],
            ttl: Duration::from_secs(60),
            num_uses: None,
            meta: [("bench".to_owned(), i.to_string())].into(),
            display_name: "bench".to_owned(),
        };
        let t = Instant::now();
        let token = vault.create_token(&root, &request).await?;
        raw_token.push(t.elapsed());
        let t = Instant::now();
        vault.read(&token.token, "secret/data/bench/api").await?;
        raw_kv.push(t.elapsed());
        vault.revoke_accessor(&root, &token.accessor).await?;
    }
    let (raw_token_p50, _) = report("openbao: create child token", &mut raw_token);
    let (raw_kv_p50, _) = report("openbao: kv read", &mut raw_kv);

    let mut starts = Vec::new();
    let mut kv = Vec::new();
    let mut db = Vec::new();
    let mut token = Vec::new();
    let mut invocations = Vec::new();
    for i in 0..n {
        let request = StartRequest {
            tenant: "bench".to_owned(),
            session: format!("s{i}"),
            tool: "fetch".to_owned(),
            tool_call_id: format!("c{i}"),
            model: "bench".to_owned(),
            traceparent: None,
            ttl_secs: Some(120),
        };
        let t = Instant::now();
        let started = control.start(&request).await?;
        starts.push(t.elapsed());
        let (id, secret) = (started.invocation_id, started.secret);
        let socket = socket.clone();
        let id2 = id.clone();
        let secret2 = secret.clone();
        let timed = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for name in ["api-key", "db", "child-token"] {
                let t = Instant::now();
                client::credential(&socket, &id2, secret2.expose(), name).map(|_| ())?;
                out.push(t.elapsed());
            }
            Ok::<_, client::ClientError>(out)
        })
        .await??;
        kv.push(timed[0]);
        db.push(timed[1]);
        token.push(timed[2]);
        invocations.push((id, secret));
    }
    let (start_p50, start_p99) = report("broker: start", &mut starts);
    let (kv_p50, _) = report("broker: credential (kv, inject)", &mut kv);
    report("broker: credential (database)", &mut db);
    report("broker: credential (child token)", &mut token);
    for (id, _) in &invocations {
        control.end(id).await?;
    }
    println!();
    println!(
        "start overhead over its OpenBao call: {:.3} ms p50 (start p99 {:.3} ms)",
        start_p50.saturating_sub(raw_token_p50).as_secs_f64() * 1e3,
        start_p99.as_secs_f64() * 1e3
    );
    println!(
        "kv credential overhead over its OpenBao read: {:.3} ms p50",
        kv_p50.saturating_sub(raw_kv_p50).as_secs_f64() * 1e3
    );

    // The proxy's identity check once cached: one lookup, then many checks of the same pair.
    let request = StartRequest {
        tenant: "bench".to_owned(),
        session: "cache".to_owned(),
        tool: "fetch".to_owned(),
        tool_call_id: "c".to_owned(),
        model: "bench".to_owned(),
        traceparent: None,
        ttl_secs: Some(120),
    };
    let started = control.start(&request).await?;
    let engine: &'static Engine = Box::leak(Box::new(Engine::new(FingerprintKey::new(vec![1u8; 32])?)?));
    let identities = BrokerIdentities::new(
        BrokerSettings {
            url: control_url.clone(),
            token: proxy_token.clone(),
            cache_ttl: Duration::from_secs(60),
            timeout: Duration::from_secs(1),
            cache_size: 1000,
        },
        engine,
    )?;
    let secret = started.secret.expose().to_owned();
    // While the tool has grants it has not fetched, every check asks the broker (a credential
    // fetched after a cached answer must be known to the next request).
    let pending_checks = 1000u32;
    let t = Instant::now();
    for _ in 0..pending_checks {
        identities
            .authenticate(&started.invocation_id, &secret)
            .await
            .map_err(|e| format!("{e:?}"))?;
    }
    println!(
        "proxy identity check, grants still to fetch (a broker lookup each): {:.2} µs per request",
        t.elapsed().as_secs_f64() * 1e6 / f64::from(pending_checks)
    );
    let fetch_socket = socket.clone();
    let (fetch_id, fetch_secret) = (started.invocation_id.clone(), secret.clone());
    tokio::task::spawn_blocking(move || {
        for name in ["api-key", "db", "child-token"] {
            client::credential(&fetch_socket, &fetch_id, &fetch_secret, name)?;
        }
        Ok::<_, client::ClientError>(())
    })
    .await??;
    identities
        .authenticate(&started.invocation_id, &secret)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let checks = 200_000u32;
    let t = Instant::now();
    for _ in 0..checks {
        let _ = identities.authenticate(&started.invocation_id, &secret).await;
    }
    println!(
        "proxy identity check, every grant fetched (cached): {:.2} µs per request",
        t.elapsed().as_secs_f64() * 1e6 / f64::from(checks)
    );
    control.end(&started.invocation_id).await?;
    Ok(())
}
