//! Datasets: shape, type and reading their values.

use crate::attribute::{self, Attribute};
use crate::datatype::{self, Datatype};
use crate::error::{Error, Result};
use crate::layout::{self, Filter, Layout};
use crate::object_header::{kind, ObjectHeader};
use crate::source::{Source, UNDEFINED};

/// The largest ratio of a dataset's decoded size to the file's size that is
/// accepted (deflate cannot expand data by more than about 1032 times; chunks
/// never written hold the fill value and are counted the same way).
pub const MAX_EXPANSION: u64 = 1032;

/// A dataset: an n-dimensional array of one element type.
#[derive(Debug, Clone)]
pub struct Dataset<'f> {
    src: &'f Source,
    path: String,
    header: ObjectHeader<'f>,
    shape: Vec<u64>,
    datatype: Datatype,
}

impl<'f> Dataset<'f> {
    pub(crate) fn new(src: &'f Source, path: String, header: ObjectHeader<'f>) -> Result<Self> {
        let dt = header.first(kind::DATATYPE).ok_or_else(|| {
            src.malformed("dataset", header.addr, "a datatype message", "none")
                .in_object(&path)
        })?;
        if dt.is_shared() {
            return Err(src
                .unsupported("committed (shared) datatype", dt.addr)
                .in_object(&path));
        }
        let datatype = datatype::parse(src, &mut dt.cursor(src)).map_err(|e| e.in_object(&path))?;
        let ds = header.first(kind::DATASPACE).ok_or_else(|| {
            src.malformed("dataset", header.addr, "a dataspace message", "none")
                .in_object(&path)
        })?;
        let shape =
            crate::dataspace::parse(src, &mut ds.cursor(src)).map_err(|e| e.in_object(&path))?;
        // A null dataspace holds no elements; it reads as shape [0].
        let shape = shape.unwrap_or_else(|| vec![0]);
        Ok(Dataset {
            src,
            path,
            header,
            shape,
            datatype,
        })
    }

    /// The dataset's path in the file, e.g. `/block1_conv1/block1_conv1/kernel:0`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The dimensions, outermost first (row-major, as h5py and NumPy show them).
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    pub(crate) fn file_path(&self) -> &std::path::Path {
        self.src.path()
    }

    /// The element type as stored.
    pub fn datatype(&self) -> &Datatype {
        &self.datatype
    }

    /// The dataset's attributes.
    pub fn attributes(&self) -> Result<Vec<Attribute<'f>>> {
        attribute::all(self.src, &self.header, &self.path).map_err(|e| e.in_object(&self.path))
    }

    /// All values in row-major order, converted to f32 (f16 and f64 are converted;
    /// integers too).
    pub fn read_f32(&self) -> Result<Vec<f32>> {
        let raw = self.read_raw()?;
        datatype::to_f32(&self.datatype, &raw).ok_or_else(|| self.not_numeric())
    }

    /// All values in row-major order, converted to f64.
    pub fn read_f64(&self) -> Result<Vec<f64>> {
        let raw = self.read_raw()?;
        datatype::to_f64(&self.datatype, &raw).ok_or_else(|| self.not_numeric())
    }

    fn not_numeric(&self) -> Error {
        Error::WrongKind {
            file: self.src.path.clone(),
            object: self.path.clone(),
            expected: "a numeric dataset".to_string(),
            found: self.datatype.describe(),
        }
    }

    /// The stored bytes of all elements, row-major, in the file's byte order.
    fn read_raw(&self) -> Result<Vec<u8>> {
        self.read_raw_inner().map_err(|e| e.in_object(&self.path))
    }

    fn read_raw_inner(&self) -> Result<Vec<u8>> {
        let src = self.src;
        if !matches!(
            self.datatype,
            Datatype::Integer { .. } | Datatype::Float { .. }
        ) {
            return Err(self.not_numeric());
        }
        let elem = self.datatype.size();
        let count = crate::dataspace::count(&self.shape).unwrap_or(u64::MAX);
        let total = count.saturating_mul(elem);
        let bound = src.len().saturating_mul(MAX_EXPANSION);
        if total > bound {
            return Err(src.too_large("dataset", total, bound));
        }
        let layout = layout::layout(src, &self.header)?;
        let filters = layout::filters(src, &self.header)?;
        let fill = layout::fill_value(src, &self.header)?;
        match layout {
            Layout::Compact(bytes) => exact(src, bytes, total, self.header.addr),
            Layout::Contiguous { addr, size } => {
                if addr == UNDEFINED {
                    return Ok(filled(total, elem, fill));
                }
                if size < total {
                    return Err(src.malformed(
                        "contiguous data size",
                        addr,
                        format!("{total} bytes"),
                        format!("{size} bytes"),
                    ));
                }
                Ok(src.bytes(addr, total, "contiguous data")?.to_vec())
            }
            Layout::ChunkedBtree { index, dims } => {
                let chunk = self.chunk_dims(&dims)?;
                let mut out = filled(total, elem, fill);
                if index == UNDEFINED {
                    return Ok(out);
                }
                for entry in crate::btree1::chunks(src, index, self.shape.len())? {
                    let stored = src.bytes(entry.addr, u64::from(entry.size), "chunk")?;
                    let bytes =
                        self.decode(stored, &filters, entry.filter_mask, &chunk, entry.addr)?;
                    self.place(&mut out, &bytes, &entry.offsets, &chunk, entry.addr)?;
                }
                Ok(out)
            }
            Layout::SingleChunk {
                addr,
                size,
                filter_mask,
                dims,
            } => {
                let chunk = self.chunk_dims(&dims)?;
                let mut out = filled(total, elem, fill);
                if addr == UNDEFINED {
                    return Ok(out);
                }
                let size = if size == u64::MAX {
                    chunk_bytes(&chunk, elem)
                } else {
                    size
                };
                let stored = src.bytes(addr, size, "chunk")?;
                let bytes = self.decode(stored, &filters, filter_mask, &chunk, addr)?;
                self.place(&mut out, &bytes, &vec![0; self.shape.len()], &chunk, addr)?;
                Ok(out)
            }
            Layout::Implicit { addr, dims } => {
                let chunk = self.chunk_dims(&dims)?;
                let mut out = filled(total, elem, fill);
                if addr == UNDEFINED {
                    return Ok(out);
                }
                let per = chunk_bytes(&chunk, elem);
                let grid = self.grid(&chunk);
                let n = crate::dataspace::count(&grid).unwrap_or(u64::MAX);
                src.bytes(addr, n.saturating_mul(per), "implicit chunks")?;
                for i in 0..n {
                    let at = addr + i * per;
                    let bytes = src.bytes(at, per, "chunk")?;
                    self.place(&mut out, bytes, &grid_offsets(i, &grid, &chunk), &chunk, at)?;
                }
                Ok(out)
            }
            Layout::FixedArray { index, dims } => {
                let chunk = self.chunk_dims(&dims)?;
                let mut out = filled(total, elem, fill);
                if index == UNDEFINED {
                    return Ok(out);
                }
                let grid = self.grid(&chunk);
                let per = chunk_bytes(&chunk, elem);
                let entries = crate::fixed_array::chunks(src, index, !filters.is_empty(), per)?;
                let n = crate::dataspace::count(&grid).unwrap_or(u64::MAX);
                if entries.len() as u64 != n {
                    return Err(src.malformed(
                        "fixed array",
                        index,
                        format!("{n} chunk entries"),
                        entries.len().to_string(),
                    ));
                }
                for (i, e) in entries.into_iter().enumerate() {
                    if e.addr == UNDEFINED {
                        continue;
                    }
                    let stored = src.bytes(e.addr, e.size, "chunk")?;
                    let bytes = self.decode(stored, &filters, e.filter_mask, &chunk, e.addr)?;
                    self.place(
                        &mut out,
                        &bytes,
                        &grid_offsets(i as u64, &grid, &chunk),
                        &chunk,
                        e.addr,
                    )?;
                }
                Ok(out)
            }
        }
    }

    /// Number of chunks along each dimension.
    fn grid(&self, chunk: &[u64]) -> Vec<u64> {
        self.shape
            .iter()
            .zip(chunk)
            .map(|(&s, &c)| s.div_ceil(c))
            .collect()
    }

    /// Chunk dimensions without the trailing element-size entry, checked.
    fn chunk_dims(&self, dims: &[u64]) -> Result<Vec<u64>> {
        let src = self.src;
        let rank = self.shape.len();
        // Layout messages store rank + 1 dimensions, the last the element size.
        let expect = rank + 1;
        let at = self.header.addr;
        if dims.len() != expect {
            return Err(src.malformed(
                "chunk dimensionality",
                at,
                expect.to_string(),
                dims.len().to_string(),
            ));
        }
        let chunk = dims[..rank].to_vec();
        if chunk.contains(&0) {
            return Err(src.malformed("chunk dimension", at, "all above 0", format!("{chunk:?}")));
        }
        let elem = self.datatype.size();
        if dims[rank] != elem {
            return Err(src.malformed(
                "chunk element size",
                at,
                elem.to_string(),
                dims[rank].to_string(),
            ));
        }
        let bytes = chunk_bytes(&chunk, elem);
        let bound = src.len().saturating_mul(MAX_EXPANSION);
        if bytes > bound {
            return Err(src.too_large("chunk", bytes, bound));
        }
        Ok(chunk)
    }

    /// Undoes the filters of one stored chunk.
    fn decode(
        &self,
        stored: &[u8],
        filters: &[Filter],
        mask: u32,
        chunk: &[u64],
        at: u64,
    ) -> Result<Vec<u8>> {
        let elem = self.datatype.size();
        crate::filters::decode(
            self.src,
            stored,
            filters,
            mask,
            chunk_bytes(chunk, elem),
            elem,
            at,
        )
    }
    /// Copies a decoded chunk into the row-major output, clipping at the edges.
    fn place(
        &self,
        out: &mut [u8],
        bytes: &[u8],
        offsets: &[u64],
        chunk: &[u64],
        at: u64,
    ) -> Result<()> {
        let src = self.src;
        let shape = &self.shape;
        let rank = shape.len();
        let elem = self.datatype.size() as usize;
        if offsets.len() != rank {
            return Err(src.malformed(
                "chunk offsets",
                at,
                format!("{rank} offsets"),
                offsets.len().to_string(),
            ));
        }
        for d in 0..rank {
            if !offsets[d].is_multiple_of(chunk[d]) || offsets[d] >= shape[d].max(1) {
                return Err(src.malformed(
                    "chunk offset",
                    at,
                    format!("a multiple of {} below {}", chunk[d], shape[d]),
                    offsets[d].to_string(),
                ));
            }
        }
        if rank == 0 {
            let n = out.len().min(bytes.len());
            out[..n].copy_from_slice(&bytes[..n]);
            return Ok(());
        }
        let last = rank - 1;
        let run = (chunk[last].min(shape[last] - offsets[last]) as usize) * elem;
        // Iterate over every row (all indices but the last) of the chunk.
        let rows: u64 = chunk[..last].iter().product();
        let mut idx = vec![0u64; last];
        for _ in 0..rows {
            let inside = (0..last).all(|d| offsets[d] + idx[d] < shape[d]);
            if inside {
                let mut src_i = 0u64;
                let mut dst_i = 0u64;
                for d in 0..last {
                    src_i = src_i * chunk[d] + idx[d];
                    dst_i = dst_i * shape[d] + offsets[d] + idx[d];
                }
                let src_at = (src_i * chunk[last]) as usize * elem;
                let dst_at = (dst_i * shape[last] + offsets[last]) as usize * elem;
                out[dst_at..dst_at + run].copy_from_slice(&bytes[src_at..src_at + run]);
            }
            for d in (0..last).rev() {
                idx[d] += 1;
                if idx[d] < chunk[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        Ok(())
    }
}

/// Element offsets of chunk number `i` in row-major chunk order.
fn grid_offsets(i: u64, grid: &[u64], chunk: &[u64]) -> Vec<u64> {
    let mut rest = i;
    let mut offsets = vec![0u64; grid.len()];
    for d in (0..grid.len()).rev() {
        let g = grid[d].max(1);
        offsets[d] = (rest % g) * chunk[d];
        rest /= g;
    }
    offsets
}

fn chunk_bytes(chunk: &[u64], elem: u64) -> u64 {
    crate::dataspace::count(chunk)
        .unwrap_or(u64::MAX)
        .saturating_mul(elem)
}

fn exact(src: &Source, bytes: &[u8], total: u64, at: u64) -> Result<Vec<u8>> {
    if (bytes.len() as u64) < total {
        return Err(src.malformed(
            "compact data size",
            at,
            format!("{total} bytes"),
            format!("{} bytes", bytes.len()),
        ));
    }
    Ok(bytes[..total as usize].to_vec())
}

/// `total` bytes holding the fill value (zeros when none is defined).
fn filled(total: u64, elem: u64, fill: Option<&[u8]>) -> Vec<u8> {
    match fill {
        Some(f) if f.len() as u64 == elem && f.iter().any(|&b| b != 0) => {
            f.iter().copied().cycle().take(total as usize).collect()
        }
        _ => vec![0; total as usize],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_repeats_the_value() {
        assert_eq!(filled(6, 2, Some(&[1, 2])), vec![1, 2, 1, 2, 1, 2]);
        assert_eq!(filled(3, 1, None), vec![0, 0, 0]);
    }
}
