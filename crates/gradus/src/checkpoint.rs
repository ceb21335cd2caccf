//! Checkpoints: named, shape-checked tensors plus JSON metadata, encoded to bytes with
//! a version and a checksum.
//!
//! This module only turns a [`Checkpoint`] into bytes and back; writing the bytes to a
//! file (atomically) is the caller's business, so the core stays free of I/O.
//!
//! # Format (version 1)
//! ```text
//! gradus-checkpoint 1 <header bytes> <payload bytes> <crc32, 8 hex digits>\n
//! <header: UTF-8 JSON>
//! <payload: the tensors' elements, little-endian, one tensor after another>
//! ```
//! The header is readable JSON:
//! `{"tensors": [{"name": ..., "dtype": "f32"|"f64", "shape": [...]}, ...], "meta": ...}`,
//! listing the tensors in payload order; `meta` is whatever the writer stores
//! (optimizer and schedule state, run settings). The CRC-32 (IEEE) covers the header
//! and the payload. Tensors are raw bits, so NaN, ±inf, −0.0 and subnormals survive
//! exactly, and large states stay compact.
//!
//! [`Checkpoint::decode`] refuses a file whose first line is not a gradus checkpoint
//! header, a version it does not know, a truncated or overlong file, a checksum
//! mismatch, a header that does not parse, duplicate tensor names, and a payload whose
//! size does not match the tensors' shapes, each with a message that says which.
//!
//! Optimizer state goes in with [`OptimizerState::to_checkpoint`] (tensors named
//! `<prefix>/<tensor>/<slot>`) and comes back with [`OptimizerState::from_checkpoint`],
//! which checks names, dtype and shapes.
//!
//! ```
//! use gradus::checkpoint::{Checkpoint, Tensor};
//! let mut c = Checkpoint::new(serde_json::json!({"step": 3}));
//! c.push(Tensor::from_slice("w", &[2, 2], &[1.0f32, -0.0, f32::NAN, 4.0]).unwrap()).unwrap();
//! let bytes = c.encode().unwrap();
//! let back = Checkpoint::decode(&bytes).unwrap();
//! assert_eq!(back.meta["step"], 3);
//! let w: Vec<f32> = back.tensor("w", &[2, 2]).unwrap();
//! assert_eq!(w[1].to_bits(), (-0.0f32).to_bits());
//! assert!(w[2].is_nan());
//! // One flipped bit is caught.
//! let mut bad = bytes.clone();
//! *bad.last_mut().unwrap() ^= 1;
//! assert!(Checkpoint::decode(&bad).is_err());
//! ```

use crate::error::{Error, Result};
use crate::float::{DType, Float};
use crate::optim::{NonFinitePolicy, OptimizerState, TensorState};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The first word of every checkpoint.
pub const MAGIC: &str = "gradus-checkpoint";
/// The format version this library writes and reads.
pub const VERSION: u32 = 1;
/// The longest first line accepted (it holds four numbers).
const MAX_FIRST_LINE: usize = 128;

fn bad(message: impl Into<String>) -> Error {
    Error::Checkpoint(message.into())
}

/// The elements of a tensor, in its dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// Single precision.
    F32(Vec<f32>),
    /// Double precision.
    F64(Vec<f64>),
}

/// A named tensor with a shape; its elements are stored row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The name, unique in a checkpoint.
    pub name: String,
    /// The shape (`[]` for a scalar; the product is the number of elements).
    pub shape: Vec<usize>,
    /// The elements.
    pub data: TensorData,
}

fn numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

fn fmt_shape(shape: &[usize]) -> String {
    let s: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("[{}]", s.join(", "))
}

impl Tensor {
    /// A tensor of `T` (`f32` or `f64`) holding `data` with `shape`; refused if the
    /// shape does not fit the data.
    pub fn from_slice<T: Float>(name: &str, shape: &[usize], data: &[T]) -> Result<Self> {
        if numel(shape) != Some(data.len()) {
            return Err(bad(format!(
                "tensor '{name}' has {} elements, which do not fill shape {}",
                data.len(),
                fmt_shape(shape)
            )));
        }
        // Widening f32 to f64 and back is exact, so this never changes a bit of a
        // finite value or an infinity.
        let data = match T::DTYPE {
            DType::F32 => TensorData::F32(data.iter().map(|x| x.f64() as f32).collect()),
            DType::F64 => TensorData::F64(data.iter().map(|x| x.f64()).collect()),
        };
        Ok(Tensor {
            name: name.to_string(),
            shape: shape.to_vec(),
            data,
        })
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self.data {
            TensorData::F32(_) => DType::F32,
            TensorData::F64(_) => DType::F64,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match &self.data {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
        }
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements as `T`, refused unless the dtype is `T`'s and the shape is `shape`.
    pub fn to_vec<T: Float>(&self, shape: &[usize]) -> Result<Vec<T>> {
        if self.dtype() != T::DTYPE {
            return Err(bad(format!(
                "tensor '{}' has dtype {}, expected {}",
                self.name,
                self.dtype(),
                T::DTYPE
            )));
        }
        if self.shape != shape {
            return Err(bad(format!(
                "tensor '{}' has shape {}, expected {}",
                self.name,
                fmt_shape(&self.shape),
                fmt_shape(shape)
            )));
        }
        Ok(match &self.data {
            TensorData::F32(v) => v.iter().map(|&x| T::of(x as f64)).collect(),
            TensorData::F64(v) => v.iter().map(|&x| T::of(x)).collect(),
        })
    }
}

/// What the header says about one tensor.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorEntry {
    name: String,
    dtype: DType,
    shape: Vec<usize>,
}

/// The JSON header.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    tensors: Vec<TensorEntry>,
    meta: serde_json::Value,
}

/// Metadata and named tensors, encoded by [`Checkpoint::encode`]: see the
/// [module docs](self) for the format.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    /// Free-form metadata (must not hold non-finite floats: JSON cannot).
    pub meta: serde_json::Value,
    /// The tensors, names unique.
    pub tensors: Vec<Tensor>,
}

impl Checkpoint {
    /// An empty checkpoint with `meta`.
    pub fn new(meta: serde_json::Value) -> Self {
        Checkpoint {
            meta,
            tensors: Vec::new(),
        }
    }

    /// Adds a tensor, refusing a name already present.
    pub fn push(&mut self, tensor: Tensor) -> Result<()> {
        if self.tensors.iter().any(|t| t.name == tensor.name) {
            return Err(bad(format!(
                "tensor name '{}' appears twice; names must be unique",
                tensor.name
            )));
        }
        self.tensors.push(tensor);
        Ok(())
    }

    /// The tensor called `name` as `T` with shape `shape`; the error names a missing
    /// tensor, a wrong dtype or a wrong shape.
    pub fn tensor<T: Float>(&self, name: &str, shape: &[usize]) -> Result<Vec<T>> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| bad(format!("tensor '{name}' is missing")))?
            .to_vec(shape)
    }

    /// The bytes of the checkpoint (see the [module docs](self)).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut names = HashSet::new();
        for t in &self.tensors {
            if !names.insert(t.name.as_str()) {
                return Err(bad(format!(
                    "tensor name '{}' appears twice; names must be unique",
                    t.name
                )));
            }
            if numel(&t.shape) != Some(t.len()) {
                return Err(bad(format!(
                    "tensor '{}' has {} elements, which do not fill shape {}",
                    t.name,
                    t.len(),
                    fmt_shape(&t.shape)
                )));
            }
        }
        let header = Header {
            tensors: self
                .tensors
                .iter()
                .map(|t| TensorEntry {
                    name: t.name.clone(),
                    dtype: t.dtype(),
                    shape: t.shape.clone(),
                })
                .collect(),
            meta: self.meta.clone(),
        };
        let mut header = serde_json::to_vec_pretty(&header)
            .map_err(|e| bad(format!("cannot encode the header: {e}")))?;
        header.push(b'\n');
        let mut payload = Vec::new();
        for t in &self.tensors {
            match &t.data {
                TensorData::F32(v) => v
                    .iter()
                    .for_each(|x| payload.extend_from_slice(&x.to_le_bytes())),
                TensorData::F64(v) => v
                    .iter()
                    .for_each(|x| payload.extend_from_slice(&x.to_le_bytes())),
            }
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        crc.update(&payload);
        let mut out = format!(
            "{MAGIC} {VERSION} {} {} {:08x}\n",
            header.len(),
            payload.len(),
            crc.finalize()
        )
        .into_bytes();
        out.extend_from_slice(&header);
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Reads bytes written by [`Checkpoint::encode`], refusing anything truncated,
    /// corrupt or of another version.
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint> {
        let not_ours = || {
            bad(format!(
                "not a gradus checkpoint (it does not start with '{MAGIC}')"
            ))
        };
        let nl = bytes
            .iter()
            .take(MAX_FIRST_LINE)
            .position(|&b| b == b'\n')
            .ok_or_else(|| {
                if bytes.starts_with(MAGIC.as_bytes()) {
                    bad("the checkpoint is truncated inside its first line")
                } else {
                    not_ours()
                }
            })?;
        let line = std::str::from_utf8(&bytes[..nl]).map_err(|_| not_ours())?;
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.first() != Some(&MAGIC) {
            return Err(not_ours());
        }
        let version: u32 = fields
            .get(1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("the checkpoint's first line has no version number"))?;
        if version != VERSION {
            return Err(bad(format!(
                "checkpoint format version {version} is not supported (this gradus reads version {VERSION})"
            )));
        }
        let [_, _, h, p, c] = fields[..] else {
            return Err(bad(format!(
                "the first line '{line}' should be '{MAGIC} {VERSION} <header bytes> <payload bytes> <crc32>'"
            )));
        };
        let field = |s: &str, what: &str| {
            s.parse::<usize>()
                .map_err(|_| bad(format!("the first line's {what} '{s}' is not a number")))
        };
        let (hlen, plen) = (field(h, "header size")?, field(p, "payload size")?);
        let crc = u32::from_str_radix(c, 16)
            .ok()
            .filter(|_| c.len() == 8)
            .ok_or_else(|| {
                bad(format!(
                    "the first line's checksum '{c}' is not 8 hex digits"
                ))
            })?;
        let body = &bytes[nl + 1..];
        let want = hlen
            .checked_add(plen)
            .ok_or_else(|| bad("sizes overflow"))?;
        if body.len() < want {
            return Err(bad(format!(
                "the checkpoint is truncated: {} bytes after the first line, expected {want}",
                body.len()
            )));
        }
        if body.len() > want {
            return Err(bad(format!(
                "the checkpoint has {} unexpected bytes at its end",
                body.len() - want
            )));
        }
        let got = crc32fast::hash(body);
        if got != crc {
            return Err(bad(format!(
                "checksum mismatch (stored {crc:08x}, computed {got:08x}): the file is corrupt"
            )));
        }
        let header: Header = serde_json::from_slice(&body[..hlen])
            .map_err(|e| bad(format!("the header does not parse: {e}")))?;
        let mut payload = &body[hlen..];
        let mut out = Checkpoint::new(header.meta);
        for e in header.tensors {
            let n = numel(&e.shape).ok_or_else(|| {
                bad(format!(
                    "tensor '{}' has an impossible shape {}",
                    e.name,
                    fmt_shape(&e.shape)
                ))
            })?;
            let size = match e.dtype {
                DType::F32 => 4,
                DType::F64 => 8,
            };
            let nbytes = n
                .checked_mul(size)
                .filter(|&b| b <= payload.len())
                .ok_or_else(|| {
                    bad(format!(
                        "tensor '{}' of shape {} does not fit in the payload",
                        e.name,
                        fmt_shape(&e.shape)
                    ))
                })?;
            let (raw, rest) = payload.split_at(nbytes);
            payload = rest;
            let data = match e.dtype {
                DType::F32 => TensorData::F32(
                    raw.chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect(),
                ),
                DType::F64 => TensorData::F64(
                    raw.chunks_exact(8)
                        .map(|b| {
                            f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                        })
                        .collect(),
                ),
            };
            out.push(Tensor {
                name: e.name,
                shape: e.shape,
                data,
            })?;
        }
        if !payload.is_empty() {
            return Err(bad(format!(
                "the payload has {} bytes the tensors do not account for",
                payload.len()
            )));
        }
        Ok(out)
    }
}

/// What the checkpoint metadata says about an optimizer (its tensors are stored apart).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptimizerMeta {
    algorithm: String,
    spec: String,
    dtype: DType,
    slot_names: Vec<String>,
    nonfinite: NonFinitePolicy,
    skipped: u64,
    tensors: Vec<TensorMeta>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorMeta {
    name: String,
    step: u64,
    /// Elements per state buffer (`None` for a rule without buffers).
    len: Option<usize>,
    scalars: usize,
}

/// Name of a tensor's per-tensor scalars (slot names never start with `#`).
const SCALARS: &str = "#scalars";

impl<T: Float> OptimizerState<T> {
    /// Adds this state to `checkpoint`: the tensors as `<prefix>/<tensor>/<slot>` (and
    /// `<prefix>/<tensor>/#scalars`), the rest as JSON under `meta[prefix]`, which must
    /// be an object or null.
    pub fn to_checkpoint(&self, prefix: &str, checkpoint: &mut Checkpoint) -> Result<()> {
        let meta = OptimizerMeta {
            algorithm: self.algorithm.clone(),
            spec: self.spec.clone(),
            dtype: T::DTYPE,
            slot_names: self.slot_names.clone(),
            nonfinite: self.nonfinite,
            skipped: self.skipped,
            tensors: self
                .tensors
                .iter()
                .map(|t| TensorMeta {
                    name: t.name.clone(),
                    step: t.step,
                    len: t.slots.first().map(Vec::len),
                    scalars: t.scalars.len(),
                })
                .collect(),
        };
        // A tensor has every named buffer, or none yet (buffers a rule creates lazily).
        if self
            .tensors
            .iter()
            .any(|t| !t.slots.is_empty() && t.slots.len() != self.slot_names.len())
        {
            return Err(bad("optimizer state: buffers do not match the slot names"));
        }
        for t in &self.tensors {
            for (slot, data) in self.slot_names.iter().zip(&t.slots) {
                checkpoint.push(Tensor::from_slice(
                    &format!("{prefix}/{}/{slot}", t.name),
                    &[data.len()],
                    data,
                )?)?;
            }
            if !t.scalars.is_empty() {
                checkpoint.push(Tensor::from_slice(
                    &format!("{prefix}/{}/{SCALARS}", t.name),
                    &[t.scalars.len()],
                    &t.scalars,
                )?)?;
            }
        }
        let value = serde_json::to_value(&meta)
            .map_err(|e| bad(format!("cannot encode the optimizer state: {e}")))?;
        match &mut checkpoint.meta {
            serde_json::Value::Null => {
                let mut m = serde_json::Map::new();
                m.insert(prefix.to_string(), value);
                checkpoint.meta = serde_json::Value::Object(m);
            }
            serde_json::Value::Object(m) => {
                m.insert(prefix.to_string(), value);
            }
            _ => return Err(bad("checkpoint meta must be a JSON object")),
        }
        Ok(())
    }

    /// Reads the state [`OptimizerState::to_checkpoint`] stored under `prefix`,
    /// checking that it was saved in dtype `T` and that every buffer is present with
    /// the shape the metadata gives. (Whether it fits a particular optimizer is checked
    /// by [`crate::optim::Optimizer::load_state`], and whether it fits particular
    /// tensors by [`OptimizerState::check_tensors`].)
    pub fn from_checkpoint(prefix: &str, checkpoint: &Checkpoint) -> Result<Self> {
        let value = checkpoint
            .meta
            .get(prefix)
            .ok_or_else(|| bad(format!("the checkpoint has no optimizer state '{prefix}'")))?;
        let meta: OptimizerMeta = serde_json::from_value(value.clone())
            .map_err(|e| bad(format!("optimizer state '{prefix}' does not parse: {e}")))?;
        if meta.dtype != T::DTYPE {
            return Err(bad(format!(
                "the optimizer state is {}, but this run computes in {}",
                meta.dtype,
                T::DTYPE
            )));
        }
        let mut tensors = Vec::with_capacity(meta.tensors.len());
        for t in meta.tensors {
            // `len` is absent for a tensor without buffers (none named, or none created
            // yet by a rule that creates them lazily).
            let slots = match t.len {
                Some(len) if !meta.slot_names.is_empty() => meta
                    .slot_names
                    .iter()
                    .map(|slot| {
                        checkpoint.tensor::<T>(&format!("{prefix}/{}/{slot}", t.name), &[len])
                    })
                    .collect::<Result<Vec<_>>>()?,
                None => Vec::new(),
                Some(_) => {
                    return Err(bad(format!(
                        "optimizer tensor '{}': buffer length does not match the slots",
                        t.name
                    )))
                }
            };
            let scalars = if t.scalars == 0 {
                Vec::new()
            } else {
                checkpoint.tensor::<f64>(&format!("{prefix}/{}/{SCALARS}", t.name), &[t.scalars])?
            };
            tensors.push(TensorState {
                name: t.name,
                step: t.step,
                slots,
                scalars,
            });
        }
        Ok(OptimizerState {
            algorithm: meta.algorithm,
            spec: meta.spec,
            slot_names: meta.slot_names,
            nonfinite: meta.nonfinite,
            skipped: meta.skipped,
            tensors,
        })
    }

    /// Checks the state against the tensors it will drive, `(name, length)`: every
    /// saved tensor must be one of them, with buffers of that length.
    pub fn check_tensors(&self, expected: &[(&str, usize)]) -> Result<()> {
        for t in &self.tensors {
            let Some(&(_, len)) = expected.iter().find(|(n, _)| *n == t.name) else {
                let names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
                return Err(Error::StateMismatch(format!(
                    "the state has tensor '{}', which is not among [{}]",
                    t.name,
                    names.join(", ")
                )));
            };
            if let Some(s) = t.slots.iter().find(|s| s.len() != len) {
                return Err(Error::StateMismatch(format!(
                    "tensor '{}' has {len} elements but its saved state has {}",
                    t.name,
                    s.len()
                )));
            }
        }
        Ok(())
    }

    /// The same state in another element type (each buffer rounded to `U`).
    pub fn cast<U: Float>(&self) -> OptimizerState<U> {
        OptimizerState {
            algorithm: self.algorithm.clone(),
            spec: self.spec.clone(),
            slot_names: self.slot_names.clone(),
            nonfinite: self.nonfinite,
            skipped: self.skipped,
            tensors: self
                .tensors
                .iter()
                .map(|t| TensorState {
                    name: t.name.clone(),
                    step: t.step,
                    slots: t
                        .slots
                        .iter()
                        .map(|s| s.iter().map(|x| U::of(x.f64())).collect())
                        .collect(),
                    scalars: t.scalars.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{self, Param};

    fn sample() -> Checkpoint {
        let mut c = Checkpoint::new(serde_json::json!({"k": [1, 2.5, "x"]}));
        c.push(Tensor::from_slice("a", &[3], &[1.0f64, f64::INFINITY, -0.0]).unwrap())
            .unwrap();
        c.push(Tensor::from_slice("b/c", &[1, 2], &[f32::MIN_POSITIVE / 4.0, -1.5]).unwrap())
            .unwrap();
        c.push(Tensor::from_slice::<f64>("empty", &[0, 5], &[]).unwrap())
            .unwrap();
        c
    }

    #[test]
    fn round_trips_bit_for_bit() {
        let c = sample();
        let bytes = c.encode().unwrap();
        assert!(bytes.starts_with(b"gradus-checkpoint 1 "));
        let d = Checkpoint::decode(&bytes).unwrap();
        assert_eq!(d.meta, c.meta);
        let a: Vec<f64> = d.tensor("a", &[3]).unwrap();
        assert_eq!(a[1], f64::INFINITY);
        assert_eq!(a[2].to_bits(), (-0.0f64).to_bits());
        let b: Vec<f32> = d.tensor("b/c", &[1, 2]).unwrap();
        assert_eq!(b[0].to_bits(), (f32::MIN_POSITIVE / 4.0).to_bits());
        assert_eq!(d.encode().unwrap(), bytes);
    }

    #[test]
    fn refuses_wrong_name_dtype_shape() {
        let d = Checkpoint::decode(&sample().encode().unwrap()).unwrap();
        let e = d.tensor::<f64>("nope", &[3]).unwrap_err().to_string();
        assert!(e.contains("'nope' is missing"), "{e}");
        let e = d.tensor::<f32>("a", &[3]).unwrap_err().to_string();
        assert!(e.contains("dtype f64, expected f32"), "{e}");
        let e = d.tensor::<f64>("a", &[4]).unwrap_err().to_string();
        assert!(e.contains("shape [3], expected [4]"), "{e}");
        assert!(Tensor::from_slice("x", &[2], &[1.0f64]).is_err());
        let mut c = sample();
        assert!(c
            .push(Tensor::from_slice("a", &[0], &[0.0f64; 0]).unwrap())
            .is_err());
    }

    #[test]
    fn refuses_truncated_corrupt_and_foreign_bytes() {
        let bytes = sample().encode().unwrap();
        for cut in [0, 5, 30, bytes.len() / 2, bytes.len() - 1] {
            let e = Checkpoint::decode(&bytes[..cut]).unwrap_err();
            assert!(matches!(e, Error::Checkpoint(_)), "{cut}: {e}");
        }
        let e = Checkpoint::decode(&bytes[..bytes.len() - 1])
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
        // Every single flipped bit after the first line is caught by the checksum.
        let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
        for i in (nl + 1..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            let e = Checkpoint::decode(&b).unwrap_err().to_string();
            assert!(e.contains("checksum"), "{i}: {e}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Checkpoint::decode(&longer)
            .unwrap_err()
            .to_string()
            .contains("unexpected bytes"));
        let e = Checkpoint::decode(b"{\"json\": true}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a gradus checkpoint"), "{e}");
        let v2 = String::from_utf8_lossy(&bytes).replacen("checkpoint 1 ", "checkpoint 2 ", 1);
        let e = Checkpoint::decode(v2.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("version 2 is not supported"), "{e}");
    }

    fn stepped<T: Float>(spec: &str) -> Box<dyn optim::Optimizer<T>> {
        let mut o = optim::build::<T>(spec).unwrap();
        let mut w = vec![T::of(1.0), T::of(-2.0), T::of(0.5)];
        let mut b = vec![T::of(0.25)];
        for k in 0..3 {
            let gw: Vec<T> = w
                .iter()
                .map(|&x| x * T::of(2.0) + T::of(k as f64))
                .collect();
            let gb = vec![b[0] - T::of(1.0)];
            o.step(&mut [Param::new("w", &mut w, &gw), Param::new("b", &mut b, &gb)])
                .unwrap();
        }
        o
    }

    #[test]
    fn optimizer_state_round_trips_and_is_checked() {
        for spec in ["adam(amsgrad=true)", "sgd(momentum=0.9)", "sgd", "adamw"] {
            let o = stepped::<f32>(spec);
            let state = o.state();
            let mut c = Checkpoint::new(serde_json::json!({}));
            state.to_checkpoint("optimizer", &mut c).unwrap();
            let d = Checkpoint::decode(&c.encode().unwrap()).unwrap();
            let back = OptimizerState::<f32>::from_checkpoint("optimizer", &d).unwrap();
            assert_eq!(back, state, "{spec}");
            back.check_tensors(&[("w", 3), ("b", 1)]).unwrap();
            if !state.slot_names.is_empty() {
                let e = back.check_tensors(&[("w", 4), ("b", 1)]).unwrap_err();
                assert!(e.to_string().contains("'w' has 4 elements"), "{e}");
            }
            let e = back.check_tensors(&[("w", 3)]).unwrap_err();
            assert!(e.to_string().contains("'b'"), "{e}");
            let e = OptimizerState::<f64>::from_checkpoint("optimizer", &d).unwrap_err();
            assert!(e.to_string().contains("f32"), "{e}");
            assert!(OptimizerState::<f32>::from_checkpoint("other", &d).is_err());
            // f32 → f64 → f32 is exact.
            assert_eq!(state.cast::<f64>().cast::<f32>(), state);
        }
        // A buffer missing from the payload is named.
        let state = stepped::<f64>("adam").state();
        let mut c = Checkpoint::new(serde_json::Value::Null);
        state.to_checkpoint("opt", &mut c).unwrap();
        c.tensors.retain(|t| t.name != "opt/b/exp_avg_sq");
        let e = OptimizerState::<f64>::from_checkpoint("opt", &c).unwrap_err();
        assert!(
            e.to_string().contains("'opt/b/exp_avg_sq' is missing"),
            "{e}"
        );
    }
}
