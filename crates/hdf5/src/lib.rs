//! A pure-Rust, read-only HDF5 reader, enough for Keras weight files.
//!
//! [`File`] opens a file and walks its groups, datasets and attributes;
//! [`keras`] reads the weights of both Keras layouts (legacy Keras 2 `.h5` and
//! Keras 3 `.weights.h5`) in file order.
//!
//! Supported: superblock versions 0 to 3; object headers v1 and v2 with
//! continuation blocks; symbol-table, compact and dense (fractal heap + v2
//! B-tree) groups; compact and dense attributes; integer, IEEE float
//! (f16/f32/f64, either byte order), fixed- and variable-length string types;
//! compact, contiguous and chunked layouts (v1 B-tree index, and the single-chunk,
//! implicit and unpaged fixed-array indexes of layout version 4) with the deflate, shuffle and
//! fletcher32 filters; fill values. Anything else is an [`Error::Unsupported`]
//! naming the feature, the file and the offset.
//!
//! Hostile input: every offset and length is checked against the file's size,
//! revisited B-tree nodes, heap blocks and continuation blocks are reported as
//! cycles, nesting is bounded, and no allocation exceeds what the file's size
//! justifies (decoded datasets at most [`MAX_EXPANSION`] times the file's size).
//!
//! ```no_run
//! let file = strata_hdf5::File::open("model.weights.h5")?;
//! for layer in strata_hdf5::keras::read_weights(&file)? {
//!     for w in &layer.weights {
//!         println!("{} {} {:?}", layer.name, w.name, w.shape);
//!     }
//! }
//! # Ok::<(), strata_hdf5::Error>(())
//! ```
#![warn(missing_docs)]
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod attribute;
mod btree1;
mod btree2;
mod checksum;
mod dataset;
mod dataspace;
mod datatype;
mod error;
mod file;
mod filters;
mod fixed_array;
mod fractal_heap;
mod heap;
pub mod keras;
mod layout;
mod links;
mod object_header;
mod source;
mod superblock;

pub use attribute::Attribute;
pub use dataset::{Dataset, MAX_EXPANSION};
pub use datatype::Datatype;
pub use error::{Error, Result};
pub use file::{File, Group, Node};
