//! # strata-serve
//!
//! Serves a saved Strata image classifier over HTTP: a page to draw on (mouse, pen or
//! touch) that shows the prediction and every class's probability as the drawing changes,
//! and a JSON API.
//!
//! - `GET /` — the drawing page (its files are compiled into the binary; nothing is fetched
//!   from elsewhere);
//! - `POST /predict` — an encoded image (PNG, JPEG, BMP or GIF; `Content-Type: image/…`,
//!   `application/octet-stream` or none), prepared as the [`Classifier`]'s [`Preprocess`]
//!   says, or `application/json` `{"pixels": [...]}` with the model's input already prepared;
//!   answers `{"class": 3, "label": "3", "probabilities": [...]}`;
//! - `GET /info` — the model's name, input shape and class names; `GET /healthz`.
//!
//! Every error answers JSON `{"error": "...", "status": N}` with a 4xx status for bad input
//! (empty, too large, not an image, too many pixels, malformed JSON, wrong size) and 503
//! when too many requests wait. Request bodies are bounded, headers and bodies must arrive
//! in time, image decoding is bounded in size and memory, and inference runs on blocking
//! threads, a bounded number at once, so that slow requests do not hold up the others.
//!
//! ```no_run
//! use strata_serve::{Classifier, Preprocess, Server, ServerConfig};
//! let classifier = Classifier::load("mnist.safetensors".as_ref(), Preprocess::Digit)?;
//! let server = Server::bind("127.0.0.1:8080", classifier, ServerConfig::default())?;
//! println!("http://{}/", server.local_addr()?);
//! server.run_until_ctrl_c()?;
//! # Ok::<(), strata_serve::ServeError>(())
//! ```

#![warn(missing_docs)]

mod api;
mod classifier;
mod decode;
mod error;
mod server;

pub use api::router;
pub use classifier::{Classifier, Prediction, Preprocess};
pub use decode::{decode_image, MAX_DECODE_BYTES, MAX_SIDE};
pub use error::{InputError, ServeError};
pub use server::{RunningServer, Server, ServerConfig};

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
