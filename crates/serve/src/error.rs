//! The errors of the serve crate: setting a server up, and what is wrong with a request.

use std::path::PathBuf;

use thiserror::Error;

/// What can go wrong when loading a classifier or starting the server.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The model file could not be loaded; the message names the file and the problem.
    #[error(transparent)]
    Model(#[from] strata_layers::LayersError),
    /// The model cannot be served as an image classifier.
    #[error("{path}: {message}")]
    Unsuitable {
        /// The model file.
        path: PathBuf,
        /// Why it cannot be served (input or output shape, class names).
        message: String,
    },
    /// Listening on an address failed.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A server setting is out of range.
    #[error("{setting}: {message}")]
    Config {
        /// The setting at fault.
        setting: &'static str,
        /// What was wrong.
        message: String,
    },
    /// Running the server failed (the async runtime or the listening socket).
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// What is wrong with a request to classify: each maps to a 4xx status, or 5xx for a
/// failure of the server itself.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum InputError {
    /// The request had no body.
    #[error("the request body is empty: send PNG bytes or JSON {{\"pixels\": [...]}}")]
    Empty,
    /// The body is larger than the server accepts.
    #[error("the request body is larger than {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body did not arrive in time.
    #[error("the request body did not arrive within {seconds} s")]
    BodyTimeout {
        /// The time allowed.
        seconds: u64,
    },
    /// Reading the body failed (the client broke the connection or sent a malformed body).
    #[error("reading the request body failed: {0}")]
    BadBody(String),
    /// The bytes are not an image in a supported format.
    #[error("not an image: {0}")]
    NotAnImage(String),
    /// The image is wider or taller than the server decodes.
    #[error("the image is {width}×{height}; at most {max}×{max} pixels are accepted")]
    ImageTooLarge {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// The largest side accepted.
        max: u32,
    },
    /// A JSON body that does not parse as `{"pixels": [numbers]}`.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// Raw pixels of the wrong count.
    #[error("expected {expected} pixels ({shape:?}), found {found}")]
    WrongSize {
        /// The model's input shape.
        shape: Vec<usize>,
        /// How many values that is.
        expected: usize,
        /// How many were sent.
        found: usize,
    },
    /// A raw pixel that is not a number in `[0, 1]`.
    #[error("pixel {index} is {value}; pixels must be in [0, 1]")]
    PixelOutOfRange {
        /// Its index.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// The image decoded but cannot be prepared (for a digit: no ink).
    #[error("cannot prepare the image: {0}")]
    Unprepared(String),
    /// The request's content type is neither an image nor JSON.
    #[error("unsupported content type {0:?}: send image/png (or another image type) or application/json")]
    ContentType(String),
    /// Too many requests are waiting for inference.
    #[error("the server is busy: {waiting} requests are waiting; try again")]
    Busy {
        /// Requests waiting.
        waiting: usize,
    },
    /// The model failed on a well-formed input (a server fault).
    #[error("inference failed: {0}")]
    Inference(String),
}

impl InputError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> u16 {
        match self {
            InputError::Empty | InputError::Json(_) | InputError::BadBody(_) => 400,
            InputError::BodyTimeout { .. } => 408,
            InputError::BodyTooLarge { .. } | InputError::ImageTooLarge { .. } => 413,
            InputError::NotAnImage(_) | InputError::ContentType(_) => 415,
            InputError::WrongSize { .. }
            | InputError::PixelOutOfRange { .. }
            | InputError::Unprepared(_) => 422,
            InputError::Busy { .. } => 503,
            InputError::Inference(_) => 500,
        }
    }
}
