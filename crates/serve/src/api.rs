//! The HTTP routes: the drawing page, `POST /predict`, `GET /info` and `GET /healthz`,
//! every error a JSON body `{"error": "...", "status": N}`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::classifier::{Classifier, Prediction, Preprocess};
use crate::error::InputError;
use crate::ServerConfig;

/// What every handler shares.
struct AppState {
    classifier: Arc<Classifier>,
    /// One permit per inference worker.
    workers: Arc<Semaphore>,
    /// Requests holding or waiting for a worker.
    pending: AtomicUsize,
    config: ServerConfig,
}

/// Builds the routes for a classifier.
pub fn router(classifier: Classifier, config: ServerConfig) -> Router {
    let state = Arc::new(AppState {
        classifier: Arc::new(classifier),
        workers: Arc::new(Semaphore::new(config.workers)),
        pending: AtomicUsize::new(0),
        config,
    });
    Router::new()
        .route("/", get(|| asset("text/html; charset=utf-8", INDEX_HTML)))
        .route(
            "/app.js",
            get(|| asset("text/javascript; charset=utf-8", APP_JS)),
        )
        .route(
            "/style.css",
            get(|| asset("text/css; charset=utf-8", STYLE_CSS)),
        )
        .route(
            "/healthz",
            get(|| async { json(StatusCode::OK, &Health { status: "ok" }) }),
        )
        .route("/info", get(info))
        .route("/predict", post(predict))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "no such page".into()) })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed here".into(),
            )
        })
        .with_state(state)
}

const INDEX_HTML: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");
const STYLE_CSS: &str = include_str!("../static/style.css");

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

#[derive(Serialize)]
struct Info<'a> {
    name: &'a str,
    input_shape: &'a [usize],
    class_names: &'a [String],
    preprocess: &'static str,
    max_body_bytes: usize,
}

#[derive(Serialize)]
struct ErrorBody {
    error: String,
    status: u16,
}

/// The raw-pixel request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pixels {
    pixels: Vec<f32>,
}

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(bytes) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            bytes,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn error(status: StatusCode, message: String) -> Response {
    json(
        status,
        &ErrorBody {
            error: message,
            status: status.as_u16(),
        },
    )
}

fn input_error(e: &InputError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    error(status, e.to_string())
}

async fn info(State(state): State<Arc<AppState>>) -> Response {
    let c = &state.classifier;
    json(
        StatusCode::OK,
        &Info {
            name: c.name(),
            input_shape: c.input_shape(),
            class_names: c.class_names(),
            preprocess: match c.preprocess() {
                Preprocess::Digit => "digit",
                Preprocess::Resize => "resize",
            },
            max_body_bytes: state.config.body_limit,
        },
    )
}

async fn predict(State(state): State<Arc<AppState>>, request: Request) -> Response {
    match classify(&state, request).await {
        Ok(prediction) => json(StatusCode::OK, &prediction),
        Err(e) => input_error(&e),
    }
}

/// The body's kind, from its content type.
enum Kind {
    Image,
    Json,
}

fn kind(request: &Request) -> Result<Kind, InputError> {
    let Some(value) = request.headers().get(header::CONTENT_TYPE) else {
        return Ok(Kind::Image);
    };
    let text = value.to_str().unwrap_or("").to_ascii_lowercase();
    let essence = text.split(';').next().unwrap_or("").trim().to_string();
    if essence == "application/json" {
        Ok(Kind::Json)
    } else if essence.starts_with("image/") || essence == "application/octet-stream" {
        Ok(Kind::Image)
    } else {
        Err(InputError::ContentType(essence))
    }
}

async fn classify(state: &Arc<AppState>, request: Request) -> Result<Prediction, InputError> {
    let kind = kind(&request)?;
    let limit = state.config.body_limit;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(InputError::BodyTooLarge { limit });
    }
    let body = read_body(request.into_body(), limit, state.config.body_timeout).await?;
    if body.is_empty() {
        return Err(InputError::Empty);
    }
    let pixels = match kind {
        Kind::Json => Some(
            serde_json::from_slice::<Pixels>(&body)
                .map_err(|e| InputError::Json(e.to_string()))?
                .pixels,
        ),
        Kind::Image => None,
    };
    // At most `max_waiting` requests queue for the workers; later ones are told to retry.
    let pending = state.pending.fetch_add(1, Ordering::AcqRel);
    let _pending = Pending(&state.pending);
    if pending >= state.config.workers + state.config.max_waiting {
        return Err(InputError::Busy { waiting: pending });
    }
    let permit = Arc::clone(&state.workers)
        .acquire_owned()
        .await
        .map_err(|e| InputError::Inference(e.to_string()))?;
    let classifier = Arc::clone(&state.classifier);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        match pixels {
            Some(pixels) => classifier.classify_pixels(&pixels),
            None => classifier.classify_image(&body),
        }
    })
    .await
    .map_err(|e| InputError::Inference(format!("the inference task failed: {e}")))?
}

/// Decrements the pending count when a request is done, however it ends.
struct Pending<'a>(&'a AtomicUsize);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn read_body(body: Body, limit: usize, timeout: Duration) -> Result<Bytes, InputError> {
    match tokio::time::timeout(timeout, to_bytes(body, limit)).await {
        Err(_) => Err(InputError::BodyTimeout {
            seconds: timeout.as_secs(),
        }),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            let inner = e.into_inner();
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(inner.as_ref());
            while let Some(e) = source {
                if e.is::<http_body_util::LengthLimitError>() {
                    return Err(InputError::BodyTooLarge { limit });
                }
                source = e.source();
            }
            Err(InputError::BadBody(inner.to_string()))
        }
    }
}
