//! Dataspace messages: the shape of a dataset or attribute.

use crate::error::Result;
use crate::source::{Cursor, Source};

/// Most dimensions HDF5 allows.
const MAX_RANK: u8 = 32;

/// Parses a dataspace message body into its dimensions. A scalar is `[]`; a null
/// dataspace (no elements) is `None`.
pub(crate) fn parse(src: &Source, c: &mut Cursor<'_>) -> Result<Option<Vec<u64>>> {
    let at = c.addr();
    let version = c.version("dataspace", &[1, 2])?;
    let rank = c.u8("dataspace rank")?;
    if rank > MAX_RANK {
        return Err(src.malformed(
            "dataspace rank",
            at,
            format!("at most {MAX_RANK}"),
            rank.to_string(),
        ));
    }
    let _flags = c.u8("dataspace flags")?;
    let null = if version == 1 {
        c.skip(5, "dataspace reserved")?;
        false
    } else {
        let ty = c.u8("dataspace type")?;
        if ty > 2 {
            return Err(src.malformed("dataspace type", at, "0, 1 or 2", ty.to_string()));
        }
        ty == 2
    };
    let mut dims = Vec::with_capacity(usize::from(rank));
    for _ in 0..rank {
        dims.push(c.length("dataspace dimension")?);
    }
    // Maximum dimensions (and the never-used permutation) follow; not needed.
    Ok(if null { None } else { Some(dims) })
}

/// Number of elements of a shape, or `None` on overflow.
pub(crate) fn count(dims: &[u64]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
}
