//! The control API, over TCP, with two bearer-token roles: the orchestrator (start, end) and
//! the proxy (lookup, misuse). Bodies are small JSON; anything else is a 4xx.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use tollgate_shared::invocation::{LookupRequest, MisuseReport, StartRequest};

use crate::error::{BrokerError, Refused};
use crate::lifecycle::{Broker, same};
use crate::store::EndReason;

/// Largest request body either interface reads.
pub const MAX_BODY: usize = 16 * 1024;
/// Longest a request may take, slow clients included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Tokens {
    pub orchestrator: String,
    pub proxy: String,
}

#[derive(Debug, Clone)]
struct App {
    broker: Arc<Broker>,
    tokens: Tokens,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Orchestrator,
    Proxy,
}

impl App {
    fn role(&self, headers: &HeaderMap) -> Result<Role, BrokerError> {
        let presented = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(BrokerError::Unauthorized)?;
        if same(presented.as_bytes(), self.tokens.orchestrator.as_bytes()) {
            Ok(Role::Orchestrator)
        } else if same(presented.as_bytes(), self.tokens.proxy.as_bytes()) {
            Ok(Role::Proxy)
        } else {
            Err(BrokerError::Unauthorized)
        }
    }

    fn require(&self, headers: &HeaderMap, role: Role) -> Result<(), BrokerError> {
        if self.role(headers)? == role {
            Ok(())
        } else {
            Err(BrokerError::Unauthorized)
        }
    }
}

pub fn router(broker: Arc<Broker>, tokens: Tokens) -> Router {
    Router::new()
        .route("/v1/invocations", post(start))
        .route("/v1/invocations/{id}/end", post(end))
        .route("/v1/invocations/{id}/misuse", post(misuse))
        .route("/v1/lookup", post(lookup))
        .route("/v1/health", axum::routing::get(health))
        .fallback(|| async { BrokerError::NoRoute })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(Arc::clone(&broker), exit))
        .with_state(App { broker, tokens })
}

/// The one exit of both interfaces: every request within [`REQUEST_TIMEOUT`] (a slow one
/// gets 408 and holds nothing), every refusal counted by reason, and every error answer in
/// the refusal shape, axum's own (an unknown path, a wrong method) included.
pub async fn exit(State(broker): State<Arc<Broker>>, request: Request, next: Next) -> Response {
    let response = match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => BrokerError::Timeout.into_response(),
    };
    let refused = response.extensions().get::<Refused>().copied();
    let response = match refused {
        None if response.status().is_client_error() || response.status().is_server_error() => {
            let status = response.status();
            let mut answer = if status == axum::http::StatusCode::NOT_FOUND {
                BrokerError::NoRoute.into_response()
            } else {
                BrokerError::BadRequest(format!("{status}")).into_response()
            };
            if status != axum::http::StatusCode::NOT_FOUND {
                *answer.status_mut() = status;
            }
            answer
        }
        _ => response,
    };
    if let Some(Refused(reason)) = response.extensions().get::<Refused>() {
        broker.count_refusal(*reason);
    }
    response
}

/// A JSON body, or a 400 in our refusal shape (axum's own rejection is plain text).
fn body<T>(payload: Result<Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, BrokerError> {
    payload
        .map(|Json(v)| v)
        .map_err(|e| BrokerError::BadRequest(format!("request body: {}", e.body_text())))
}

async fn start(
    State(app): State<App>,
    headers: HeaderMap,
    payload: Result<Json<StartRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, BrokerError> {
    app.require(&headers, Role::Orchestrator)?;
    let started = app.broker.start(body(payload)?).await?;
    Ok((axum::http::StatusCode::CREATED, Json(started)).into_response())
}

async fn end(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, BrokerError> {
    app.require(&headers, Role::Orchestrator)?;
    let ended = app.broker.end(&id, EndReason::Ended).await?;
    Ok(Json(json!({ "invocation_id": id, "ended": ended })).into_response())
}

async fn lookup(
    State(app): State<App>,
    headers: HeaderMap,
    payload: Result<Json<LookupRequest>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, BrokerError> {
    app.require(&headers, Role::Proxy)?;
    let request = body(payload)?;
    let record = app
        .broker
        .authenticate(&request.invocation_id, request.secret.expose())
        .await?;
    Ok(Json(app.broker.lookup(record).await?).into_response())
}

async fn misuse(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    payload: Result<Json<MisuseReport>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, BrokerError> {
    app.require(&headers, Role::Proxy)?;
    let report = body(payload)?;
    let revoked = app.broker.misuse(&id, &report).await?;
    Ok(Json(json!({ "invocation_id": id, "ended": revoked })).into_response())
}

async fn health(State(app): State<App>) -> Response {
    let token = app.broker.keeper.token();
    match app.broker.vault.token_valid(&token).await {
        Ok(true) => Json(json!({"status": "ok", "refusals": app.broker.refusals()})).into_response(),
        Ok(false) => BrokerError::Vault(crate::vault::VaultError::Unavailable(
            "the broker's token is no longer valid".to_owned(),
        ))
        .into_response(),
        Err(e) => BrokerError::Vault(e).into_response(),
    }
}
