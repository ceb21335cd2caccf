//! Checkpoints: named, shape-checked tensors plus JSON metadata, encoded to bytes with
//! a version and a checksum.
//!
//! This module only turns a [`Checkpoint`] into bytes and back; writing the bytes to a
//! file (atomically) is the caller's business, so the core stays free of I/O.
//!
//! # Format (version 2): a safetensors file
//! A checkpoint is a [safetensors](https://huggingface.co/docs/safetensors) file,
//! written and read through the `safetensors` crate, so candle, PyTorch
//! (`safetensors.torch.load_file`) and NumPy tools open it directly: every tensor under
//! its name, `F32` or `F64`, with its shape. gradus' own part is one metadata entry,
//! key `gradus-checkpoint`, whose value is JSON:
//! `{"version": 2, "crc32": "<8 hex digits>", "order": [names...], "meta": ...}`;
//! `meta` is whatever the writer stores (optimizer and schedule state, run settings),
//! `order` the tensors' order (safetensors sorts them), and the CRC-32 (IEEE) covers
//! `meta`, `order` and every tensor's dtype, shape and bytes, so that no flipped bit
//! goes unnoticed. Tensors are raw little-endian bits, so NaN, ±inf, −0.0 and
//! subnormals survive exactly.
//!
//! # Format version 1 (still read)
//! ```text
//! gradus-checkpoint 1 <header bytes> <payload bytes> <crc32, 8 hex digits>\n
//! <header: UTF-8 JSON {"tensors": [{"name", "dtype", "shape"}...], "meta": ...}>
//! <payload: the tensors' elements, little-endian, one tensor after another>
//! ```
//!
//! [`Checkpoint::decode`] refuses a file whose first line is not a gradus checkpoint
//! header, a version it does not know, a truncated or overlong file, a checksum
//! mismatch, a header that does not parse, duplicate tensor names, and a payload whose
//! size does not match the tensors' shapes, each with a message that says which.
//!
//! # Limits
//! Every size in a file is checked before anything of that size is allocated: the
//! header is at most [`MAX_V2_HEADER_BYTES`] (version 1: a first line of at most 128
//! bytes and a header of at most [`MAX_HEADER_BYTES`]), the payload at most
//! [`MAX_PAYLOAD_BYTES`], and a file lists at most [`MAX_TENSORS`] tensors. A reader
//! of files reads the first [`MAX_FIRST_LINE`] bytes, asks [`Preamble::prefix_bytes`]
//! how much of the start it needs, and learns from [`Preamble::parse`] the file's
//! exact size (checked against these limits) before reading the rest. Decoding
//! takes time linear in the size of the file and the number of tensors.
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
/// The format version this library writes (it also reads version 1).
pub const VERSION: u32 = 2;

/// What a version-2 file keeps in its safetensors metadata, under the one key
/// [`MAGIC`] (one key, so that the file's bytes do not depend on a map's order).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct V2Info {
    /// The format version.
    version: u32,
    /// [`v2_checksum`] as 8 hex digits.
    crc32: String,
    /// The tensors' names in the writer's order (safetensors sorts them).
    order: Vec<String>,
    /// The free-form metadata.
    meta: serde_json::Value,
}

/// The version-2 header length from a file's first 8 bytes, checked against the limit.
fn v2_header_len(head: &[u8]) -> Result<usize> {
    let Some(len) = head.get(..8) else {
        return Err(not_gradus());
    };
    let n = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    // A safetensors header is JSON, so it starts with '{'; anything else is not ours.
    if n > MAX_V2_HEADER_BYTES as u64 || head.get(8).is_some_and(|&b| b != b'{') {
        return Err(not_gradus());
    }
    Ok(n as usize)
}

fn not_gradus() -> Error {
    bad(format!(
        "not a gradus checkpoint (neither a safetensors file with '{MAGIC}' metadata nor \
         a file starting with '{MAGIC}')"
    ))
}

/// The version-2 checksum: CRC-32 of the metadata text, the order text, and each
/// tensor's dtype, shape and bytes in that order, so that no part of the file (names,
/// shapes, values, metadata) can change unnoticed.
fn v2_checksum<'a>(
    meta: &serde_json::Value,
    order: &[String],
    tensors: impl Iterator<Item = (TensorDtype, &'a [usize], &'a [u8])>,
) -> Result<u32> {
    let encode = |e: serde_json::Error| bad(format!("cannot encode the metadata: {e}"));
    let mut crc = crc32fast::Hasher::new();
    crc.update(serde_json::to_string(meta).map_err(encode)?.as_bytes());
    crc.update(serde_json::to_string(order).map_err(encode)?.as_bytes());
    for (dtype, shape, data) in tensors {
        crc.update(format!("{dtype}{shape:?}").as_bytes());
        crc.update(data);
    }
    Ok(crc.finalize())
}
/// The longest first line accepted (it holds four numbers).
pub const MAX_FIRST_LINE: usize = 128;
/// The largest JSON header accepted, in bytes (256 MiB).
pub const MAX_HEADER_BYTES: usize = 256 << 20;
/// The largest payload accepted, in bytes (16 GiB: two billion f64 elements).
pub const MAX_PAYLOAD_BYTES: u64 = 16 << 30;
/// The largest safetensors header accepted (the `safetensors` crate's own limit).
pub const MAX_V2_HEADER_BYTES: usize = 100_000_000;
/// The most tensors a checkpoint may list.
pub const MAX_TENSORS: usize = 1 << 20;

/// The deepest nesting of optimizer states (combinators inside combinators) a file may hold.
pub const MAX_NESTING: usize = 16;

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
    /// bfloat16, as its bits (optimizer state kept with `state_dtype=bf16`).
    BF16(Vec<u16>),
    /// Bytes (the codes of optimizer state kept with `state_dtype=q8`).
    U8(Vec<u8>),
}

/// The element type of a checkpoint tensor: a [`DType`] or bfloat16.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorDtype {
    /// IEEE 754 single precision.
    F32,
    /// IEEE 754 double precision.
    F64,
    /// bfloat16 (the upper half of an `f32`).
    BF16,
    /// Unsigned bytes.
    U8,
}

impl TensorDtype {
    /// The name in messages and checksums (`f32`, `f64`, `bf16`).
    pub fn as_str(self) -> &'static str {
        match self {
            TensorDtype::F32 => "f32",
            TensorDtype::F64 => "f64",
            TensorDtype::BF16 => "bf16",
            TensorDtype::U8 => "u8",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            TensorDtype::F32 => 4,
            TensorDtype::F64 => 8,
            TensorDtype::BF16 => 2,
            TensorDtype::U8 => 1,
        }
    }
}

impl From<DType> for TensorDtype {
    fn from(d: DType) -> Self {
        match d {
            DType::F32 => TensorDtype::F32,
            DType::F64 => TensorDtype::F64,
        }
    }
}

impl PartialEq<DType> for TensorDtype {
    fn eq(&self, other: &DType) -> bool {
        *self == TensorDtype::from(*other)
    }
}

impl std::fmt::Display for TensorDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

impl TensorData {
    /// Elements of `dtype` from little-endian bytes (a whole number of elements).
    fn from_le_bytes(dtype: TensorDtype, raw: &[u8]) -> TensorData {
        match dtype {
            TensorDtype::U8 => TensorData::U8(raw.to_vec()),
            TensorDtype::BF16 => TensorData::BF16(
                raw.chunks_exact(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
                    .collect(),
            ),
            TensorDtype::F32 => TensorData::F32(
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            TensorDtype::F64 => TensorData::F64(
                raw.chunks_exact(8)
                    .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                    .collect(),
            ),
        }
    }
}

impl Tensor {
    /// The elements as little-endian bytes.
    fn le_bytes(&self) -> Vec<u8> {
        match &self.data {
            TensorData::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::BF16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            TensorData::U8(v) => v.clone(),
        }
    }

    /// A tensor called `name` holding `data` (of `len` elements) with `shape`; refused
    /// if the shape does not fit the data.
    fn filled(name: &str, shape: &[usize], len: usize, data: TensorData) -> Result<Self> {
        if numel(shape) != Some(len) {
            return Err(bad(format!(
                "tensor '{name}' has {len} elements, which do not fill shape {}",
                fmt_shape(shape)
            )));
        }
        Ok(Tensor {
            name: name.to_string(),
            shape: shape.to_vec(),
            data,
        })
    }

    /// The error for a tensor read as `expected` that has another dtype.
    fn wrong_dtype(&self, expected: &str) -> Error {
        bad(format!(
            "tensor '{}' has dtype {}, expected {expected}",
            self.name,
            self.dtype()
        ))
    }

    /// A byte tensor holding `data` with `shape`; refused if the shape does not fit.
    pub fn from_u8(name: &str, shape: &[usize], data: &[u8]) -> Result<Self> {
        Self::filled(name, shape, data.len(), TensorData::U8(data.to_vec()))
    }

    /// The bytes, refused unless the dtype is u8 and the shape `shape`.
    pub fn to_u8(&self, shape: &[usize]) -> Result<Vec<u8>> {
        self.check_shape(shape)?;
        match &self.data {
            TensorData::U8(v) => Ok(v.clone()),
            _ => Err(self.wrong_dtype("u8")),
        }
    }

    /// A bfloat16 tensor holding the bits `data` with `shape`; refused if the shape
    /// does not fit the data.
    pub fn from_bf16(name: &str, shape: &[usize], data: &[u16]) -> Result<Self> {
        Self::filled(name, shape, data.len(), TensorData::BF16(data.to_vec()))
    }

    /// The bfloat16 bits, refused unless the dtype is bfloat16 and the shape `shape`.
    pub fn to_bf16(&self, shape: &[usize]) -> Result<Vec<u16>> {
        self.check_shape(shape)?;
        match &self.data {
            TensorData::BF16(v) => Ok(v.clone()),
            _ => Err(self.wrong_dtype("bf16")),
        }
    }

    fn check_shape(&self, shape: &[usize]) -> Result<()> {
        if self.shape != shape {
            return Err(bad(format!(
                "tensor '{}' has shape {}, expected {}",
                self.name,
                fmt_shape(&self.shape),
                fmt_shape(shape)
            )));
        }
        Ok(())
    }

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
    pub fn dtype(&self) -> TensorDtype {
        match self.data {
            TensorData::F32(_) => TensorDtype::F32,
            TensorData::F64(_) => TensorDtype::F64,
            TensorData::BF16(_) => TensorDtype::BF16,
            TensorData::U8(_) => TensorDtype::U8,
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match &self.data {
            TensorData::F32(v) => v.len(),
            TensorData::F64(v) => v.len(),
            TensorData::BF16(v) => v.len(),
            TensorData::U8(v) => v.len(),
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
        self.check_shape(shape)?;
        Ok(match &self.data {
            TensorData::F32(v) => v.iter().map(|&x| T::of(x as f64)).collect(),
            TensorData::F64(v) => v.iter().map(|&x| T::of(x)).collect(),
            TensorData::BF16(_) | TensorData::U8(_) => {
                unreachable!("the dtype is T's, checked above")
            }
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

    /// The bytes of the checkpoint: a safetensors file (see the [module docs](self)).
    pub fn encode(&self) -> Result<Vec<u8>> {
        self.check_names_and_shapes()?;
        let order: Vec<String> = self.tensors.iter().map(|t| t.name.clone()).collect();
        let raw: Vec<Vec<u8>> = self.tensors.iter().map(Tensor::le_bytes).collect();
        let crc = v2_checksum(
            &self.meta,
            &order,
            self.tensors
                .iter()
                .zip(&raw)
                .map(|(t, b)| (t.dtype(), t.shape.as_slice(), b.as_slice())),
        )?;
        let views = self
            .tensors
            .iter()
            .zip(&raw)
            .map(|(t, b)| {
                let dtype = match t.dtype() {
                    TensorDtype::F32 => safetensors::Dtype::F32,
                    TensorDtype::F64 => safetensors::Dtype::F64,
                    TensorDtype::BF16 => safetensors::Dtype::BF16,
                    TensorDtype::U8 => safetensors::Dtype::U8,
                };
                safetensors::tensor::TensorView::new(dtype, t.shape.clone(), b)
                    .map(|v| (t.name.as_str(), v))
                    .map_err(|e| bad(format!("tensor '{}': {e}", t.name)))
            })
            .collect::<Result<Vec<_>>>()?;
        let info = V2Info {
            version: VERSION,
            crc32: format!("{crc:08x}"),
            order,
            meta: self.meta.clone(),
        };
        let info = serde_json::to_string(&info)
            .map_err(|e| bad(format!("cannot encode the metadata: {e}")))?;
        safetensors::tensor::serialize(
            views,
            Some(std::collections::HashMap::from([(MAGIC.to_string(), info)])),
        )
        .map_err(|e| bad(format!("cannot encode the checkpoint: {e}")))
    }

    /// Names unique, shapes filling the data: what both formats require.
    fn check_names_and_shapes(&self) -> Result<()> {
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
        Ok(())
    }

    /// The bytes in the version-1 format (kept to test that such files still load).
    #[cfg(test)]
    fn encode_v1(&self) -> Result<Vec<u8>> {
        self.check_names_and_shapes()?;
        let header = Header {
            tensors: self
                .tensors
                .iter()
                .map(|t| TensorEntry {
                    name: t.name.clone(),
                    dtype: match t.dtype() {
                        TensorDtype::F32 => DType::F32,
                        TensorDtype::F64 => DType::F64,
                        TensorDtype::BF16 | TensorDtype::U8 => {
                            panic!("format version 1 has no bf16 or u8")
                        }
                    },
                    shape: t.shape.clone(),
                })
                .collect(),
            meta: self.meta.clone(),
        };
        let mut header = serde_json::to_vec_pretty(&header)
            .map_err(|e| bad(format!("cannot encode the header: {e}")))?;
        header.push(b'\n');
        let payload: Vec<u8> = self.tensors.iter().flat_map(Tensor::le_bytes).collect();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        crc.update(&payload);
        let mut out = format!(
            "{MAGIC} 1 {} {} {:08x}\n",
            header.len(),
            payload.len(),
            crc.finalize()
        )
        .into_bytes();
        out.extend_from_slice(&header);
        out.extend_from_slice(&payload);
        Ok(out)
    }

    /// Reads bytes written by [`Checkpoint::encode`] (or by a gradus of format
    /// version 1), refusing anything truncated, corrupt, of another version, or beyond
    /// the [limits](self#limits).
    pub fn decode(bytes: &[u8]) -> Result<Checkpoint> {
        if bytes.starts_with(MAGIC.as_bytes()) {
            return Self::decode_v1(bytes);
        }
        let pre = Preamble::parse(bytes)?;
        if bytes.len() != pre.file_bytes() {
            return Err(bad(format!(
                "the checkpoint has {} bytes but its header describes {}: it is {}",
                bytes.len(),
                pre.file_bytes(),
                if bytes.len() < pre.file_bytes() {
                    "truncated"
                } else {
                    "longer than written"
                }
            )));
        }
        let st = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("the safetensors file does not parse: {e}")))?;
        let (_, info) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("the safetensors file does not parse: {e}")))?;
        let info = info
            .metadata()
            .as_ref()
            .and_then(|m| m.get(MAGIC))
            .ok_or_else(not_gradus)?;
        let raw_info = info;
        let info: V2Info = serde_json::from_str(raw_info)
            .map_err(|e| bad(format!("the checkpoint's metadata does not parse: {e}")))?;
        // The checksum covers what the header means, not how it is spelt: a byte that
        // changes only the spelling (a space of the header's padding turned into a
        // tab, `1e-8` into `1E-8`) is refused here, since gradus writes one spelling.
        let header = &bytes[8..8 + v2_header_len(bytes)?];
        let json_end = header.iter().rposition(|&b| b == b'}').map_or(0, |i| i + 1);
        if header[json_end..].iter().any(|&b| b != b' ') {
            return Err(bad(
                "the safetensors header's padding is not spaces: the file is corrupt",
            ));
        }
        let canonical = serde_json::to_string(&info)
            .map_err(|e| bad(format!("cannot encode the metadata: {e}")))?;
        if canonical != *raw_info {
            return Err(bad(format!(
                "the checkpoint's metadata is not as gradus writes it (its checksum covers \
                 the values, which parse, but {} of its {} bytes are spelt differently): \
                 the file is corrupt",
                canonical
                    .bytes()
                    .zip(raw_info.bytes())
                    .filter(|(a, b)| a != b)
                    .count()
                    .max(1),
                raw_info.len()
            )));
        }
        let order = &info.order;
        if order.len() != st.len() {
            return Err(bad(format!(
                "the checkpoint lists {} tensors in its order but holds {}",
                order.len(),
                st.len()
            )));
        }
        let mut out = Checkpoint::new(serde_json::Value::Null);
        out.tensors.reserve(order.len());
        let mut names: HashSet<&str> = HashSet::with_capacity(order.len());
        let mut views = Vec::with_capacity(order.len());
        for name in order {
            if !names.insert(name) {
                return Err(bad(format!(
                    "tensor name '{name}' appears twice; names must be unique"
                )));
            }
            let view = st
                .tensor(name)
                .map_err(|_| bad(format!("tensor '{name}' is listed but missing")))?;
            let dtype = match view.dtype() {
                safetensors::Dtype::F32 => TensorDtype::F32,
                safetensors::Dtype::F64 => TensorDtype::F64,
                safetensors::Dtype::BF16 => TensorDtype::BF16,
                safetensors::Dtype::U8 => TensorDtype::U8,
                other => {
                    return Err(bad(format!(
                        "tensor '{name}' has dtype {other:?}; gradus stores f32, f64, \
                         bf16 and u8 (optimizer state)"
                    )))
                }
            };
            views.push((dtype, view));
        }
        let got = v2_checksum(
            &info.meta,
            order,
            views.iter().map(|(d, v)| (*d, v.shape(), v.data())),
        )?;
        if format!("{got:08x}") != info.crc32 {
            return Err(bad(format!(
                "checksum mismatch (stored {}, computed {got:08x}): the file is corrupt",
                info.crc32.escape_debug()
            )));
        }
        out.meta = info.meta;
        for (name, (dtype, view)) in info.order.into_iter().zip(views) {
            out.tensors.push(Tensor {
                name,
                shape: view.shape().to_vec(),
                data: TensorData::from_le_bytes(dtype, view.data()),
            });
        }
        Ok(out)
    }

    fn decode_v1(bytes: &[u8]) -> Result<Checkpoint> {
        let pre = Preamble::parse(bytes)?;
        let body = &bytes[pre.first_line_bytes..];
        let (hlen, plen) = (pre.header_bytes, pre.payload_bytes);
        let crc = pre.crc;
        let want = hlen + plen;
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
        if header.tensors.len() > MAX_TENSORS {
            return Err(bad(format!(
                "the header lists {} tensors; at most {MAX_TENSORS} are accepted",
                header.tensors.len()
            )));
        }
        let mut payload = &body[hlen..];
        let mut out = Checkpoint::new(header.meta);
        out.tensors.reserve(header.tensors.len());
        // A set, not `push`'s scan, so decoding stays linear in the number of tensors.
        let mut names: HashSet<String> = HashSet::with_capacity(header.tensors.len());
        for e in header.tensors {
            let n = numel(&e.shape).ok_or_else(|| {
                bad(format!(
                    "tensor '{}' has an impossible shape {}",
                    e.name,
                    fmt_shape(&e.shape)
                ))
            })?;
            let size = TensorDtype::from(e.dtype).size();
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
            let data = TensorData::from_le_bytes(e.dtype.into(), raw);
            if !names.insert(e.name.clone()) {
                return Err(bad(format!(
                    "tensor name '{}' appears twice; names must be unique",
                    e.name
                )));
            }
            out.tensors.push(Tensor {
                name: e.name,
                shape: e.shape,
                data,
            });
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

/// The start of a checkpoint file, enough to know the file's exact size before
/// reading the rest, each size checked against the [limits](self#limits).
///
/// For version 2 (safetensors) that is the 8-byte header length and the JSON header;
/// for version 1 the first line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preamble {
    /// The format version.
    pub version: u32,
    /// Bytes before the header: the first line (its newline included) in version 1,
    /// the 8-byte length in version 2.
    pub first_line_bytes: usize,
    /// Bytes of the JSON header.
    pub header_bytes: usize,
    /// Bytes of the payload.
    pub payload_bytes: usize,
    /// The CRC-32 of header and payload (version 1; version 2 keeps its checksum in
    /// the header's metadata, and this is 0).
    pub crc: u32,
}

impl Preamble {
    /// How many bytes from the start of a file [`Preamble::parse`] needs, judged from
    /// its first [`MAX_FIRST_LINE`] bytes (or all of a shorter file): at most
    /// `MAX_FIRST_LINE` for version 1, the length prefix plus the header for version 2
    /// (refused if that header is larger than [`MAX_HEADER_BYTES`]).
    pub fn prefix_bytes(head: &[u8]) -> Result<usize> {
        if head.starts_with(MAGIC.as_bytes()) {
            return Ok(MAX_FIRST_LINE);
        }
        let n = v2_header_len(head)?;
        Ok(8 + n)
    }

    /// Parses the start of a file ([`Preamble::prefix_bytes`] of it suffice), refusing
    /// anything that is not a gradus checkpoint of a version this gradus reads, or
    /// whose sizes exceed the limits.
    pub fn parse(bytes: &[u8]) -> Result<Preamble> {
        if bytes.starts_with(MAGIC.as_bytes()) {
            return Self::parse_v1(bytes);
        }
        let n = v2_header_len(bytes)?;
        let header = bytes
            .get(8..8 + n)
            .ok_or_else(|| bad("the checkpoint is truncated inside its header"))?;
        let header: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(header).map_err(|_| not_gradus())?;
        let info = header
            .get("__metadata__")
            .and_then(|m| m.get(MAGIC))
            .and_then(serde_json::Value::as_str)
            .ok_or_else(not_gradus)?;
        // Only the version is read here; the rest is checked by `decode`.
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let version = serde_json::from_str::<Version>(info)
            .map_err(|e| bad(format!("the checkpoint's metadata does not parse: {e}")))?
            .version;
        if version != VERSION {
            return Err(bad(format!(
                "checkpoint format version {version} is not supported (this gradus reads versions 1 and {VERSION})"
            )));
        }
        if header.len() > MAX_TENSORS + 1 {
            return Err(bad(format!(
                "the header lists {} tensors; at most {MAX_TENSORS} are accepted",
                header.len() - 1
            )));
        }
        let mut payload = 0u64;
        for (name, entry) in header.iter().filter(|(k, _)| *k != "__metadata__") {
            let end = entry
                .get("data_offsets")
                .and_then(|o| o.get(1))
                .and_then(serde_json::Value::as_u64)
                .ok_or_else(|| {
                    bad(format!(
                        "tensor '{}' has no valid data_offsets",
                        name.escape_debug()
                    ))
                })?;
            payload = payload.max(end);
        }
        if payload > MAX_PAYLOAD_BYTES {
            return Err(bad(format!(
                "the header describes a payload of {payload} bytes; at most {MAX_PAYLOAD_BYTES} are accepted"
            )));
        }
        let payload_bytes = usize::try_from(payload).map_err(|_| {
            bad(format!(
                "the payload of {payload} bytes does not fit in this machine's memory"
            ))
        })?;
        Ok(Preamble {
            version: VERSION,
            first_line_bytes: 8,
            header_bytes: n,
            payload_bytes,
            crc: 0,
        })
    }

    fn parse_v1(bytes: &[u8]) -> Result<Preamble> {
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
                if bytes.starts_with(MAGIC.as_bytes()) && bytes.len() < MAX_FIRST_LINE {
                    bad("the checkpoint is truncated inside its first line")
                } else if bytes.starts_with(MAGIC.as_bytes()) {
                    bad(format!(
                        "the checkpoint's first line is longer than {MAX_FIRST_LINE} bytes"
                    ))
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
        if version != 1 {
            return Err(bad(format!(
                "checkpoint format version {version} is not supported (this gradus reads versions 1 and {VERSION})"
            )));
        }
        let [_, _, h, p, c] = fields[..] else {
            return Err(bad(format!(
                "the first line '{}' should be '{MAGIC} 1 <header bytes> <payload bytes> <crc32>'",
                line.escape_debug()
            )));
        };
        let field = |s: &str, what: &str, max: u64| {
            let v = s.parse::<u64>().map_err(|_| {
                bad(format!(
                    "the first line's {what} '{}' is not a number",
                    s.escape_debug()
                ))
            })?;
            if v > max {
                return Err(bad(format!(
                    "the first line's {what} {v} is larger than the {max} bytes accepted"
                )));
            }
            usize::try_from(v).map_err(|_| {
                bad(format!(
                    "the first line's {what} {v} does not fit in this machine's memory"
                ))
            })
        };
        let header_bytes = field(h, "header size", MAX_HEADER_BYTES as u64)?;
        let payload_bytes = field(p, "payload size", MAX_PAYLOAD_BYTES)?;
        let crc = u32::from_str_radix(c, 16)
            .ok()
            .filter(|_| c.len() == 8)
            .ok_or_else(|| {
                bad(format!(
                    "the first line's checksum '{}' is not 8 hex digits",
                    c.escape_debug()
                ))
            })?;
        header_bytes
            .checked_add(payload_bytes)
            .and_then(|n| n.checked_add(nl + 1))
            .ok_or_else(|| bad("sizes overflow"))?;
        Ok(Preamble {
            version: 1,
            first_line_bytes: nl + 1,
            header_bytes,
            payload_bytes,
            crc,
        })
    }

    /// The size of the whole file this preamble describes.
    pub fn file_bytes(&self) -> usize {
        self.first_line_bytes + self.header_bytes + self.payload_bytes
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
    /// How many optimizer-wide scalars are stored, as the tensor `<prefix>/#globals`
    /// (a tensor, not JSON, since they may be infinite).
    #[serde(default, skip_serializing_if = "is_zero")]
    globals: usize,
    /// How many nested states (a combinator's) are stored under `<prefix>/#inner<i>`.
    #[serde(default, skip_serializing_if = "is_zero")]
    inner: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Where the `i`-th nested state of the state under `prefix` is stored.
fn inner_prefix(prefix: &str, i: usize) -> String {
    format!("{prefix}/#inner{i}")
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorMeta {
    name: String,
    step: u64,
    /// Elements per state buffer (`None` for a rule without buffers).
    len: Option<usize>,
    scalars: usize,
    /// Each buffer's own shape, for optimizers whose buffers are not shaped like the
    /// tensor (absent otherwise, and in older files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    shapes: Vec<Vec<usize>>,
    /// Whether the buffers are stored as bfloat16 (`state_dtype=bf16`; absent
    /// otherwise, and in older files).
    #[serde(default, skip_serializing_if = "is_false")]
    bf16: bool,
    /// Whether the buffers are 8-bit codes with block scales (`state_dtype=q8`;
    /// absent otherwise, and in older files).
    #[serde(default, skip_serializing_if = "is_false")]
    q8: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Name of a tensor's per-tensor scalars (slot names never start with `#`).
const SCALARS: &str = "#scalars";
/// Name of the optimizer-wide scalars.
const GLOBALS: &str = "#globals";
/// Suffix of the block scales of an 8-bit buffer (`<slot>#absmax`).
const ABSMAX: &str = "#absmax";

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
                    len: t.buffer_len(),
                    scalars: t.scalars.len(),
                    shapes: t.shapes.clone(),
                    bf16: !t.bf16_slots.is_empty(),
                    q8: !t.q8_slots.is_empty(),
                })
                .collect(),
            globals: self.globals.len(),
            inner: self.inner.len(),
        };
        // A tensor has every named buffer, or none yet (buffers a rule creates lazily).
        if self
            .tensors
            .iter()
            .any(|t| !t.slots.is_empty() && t.slots.len() != self.slot_names.len())
        {
            return Err(bad("optimizer state: buffers do not match the slot names"));
        }
        // bfloat16 buffers likewise, and in place of the others, never beside them.
        if let Some(t) = self.tensors.iter().find(|t| {
            (!t.bf16_slots.is_empty()
                && (t.bf16_slots.len() != self.slot_names.len()
                    || !t.slots.is_empty()
                    || !t.q8_slots.is_empty()
                    || !t.shapes.is_empty()))
                || (!t.q8_slots.is_empty()
                    && (t.q8_slots.len() != self.slot_names.len()
                        || t.q8_absmax.len() != t.q8_slots.len()
                        || t.q8_absmax.iter().zip(&t.q8_slots).any(|(a, s)| {
                            a.len() != crate::optim::state_dtype::q8::blocks(s.len())
                        })
                        || !t.slots.is_empty()
                        || !t.shapes.is_empty()))
        }) {
            return Err(bad(format!(
                "optimizer state: tensor '{}' has bf16 or 8-bit buffers that do not match \
                 the slot names (or their block scales), or buffers of two types",
                t.name
            )));
        }
        if let Some(t) = self
            .tensors
            .iter()
            .find(|t| !t.shapes.is_empty() && t.shapes.len() != t.slots.len())
        {
            return Err(bad(format!(
                "optimizer state: tensor '{}' has {} buffers but {} shapes",
                t.name,
                t.slots.len(),
                t.shapes.len()
            )));
        }
        // A set of the names, not `push`'s scan, so many tensors stay linear.
        let mut names: HashSet<String> =
            checkpoint.tensors.iter().map(|t| t.name.clone()).collect();
        let mut add = |tensor: Tensor| -> Result<()> {
            if !names.insert(tensor.name.clone()) {
                return Err(bad(format!(
                    "tensor name '{}' appears twice; names must be unique",
                    tensor.name
                )));
            }
            checkpoint.tensors.push(tensor);
            Ok(())
        };
        for t in &self.tensors {
            for (k, (slot, data)) in self.slot_names.iter().zip(&t.slots).enumerate() {
                let flat = [data.len()];
                let shape = t.shapes.get(k).map_or(&flat[..], Vec::as_slice);
                add(Tensor::from_slice(
                    &format!("{prefix}/{}/{slot}", t.name),
                    shape,
                    data,
                )?)?;
            }
            for (slot, data) in self.slot_names.iter().zip(&t.bf16_slots) {
                add(Tensor::from_bf16(
                    &format!("{prefix}/{}/{slot}", t.name),
                    &[data.len()],
                    data,
                )?)?;
            }
            for ((slot, codes), absmax) in self.slot_names.iter().zip(&t.q8_slots).zip(&t.q8_absmax)
            {
                add(Tensor::from_u8(
                    &format!("{prefix}/{}/{slot}", t.name),
                    &[codes.len()],
                    codes,
                )?)?;
                add(Tensor::from_slice(
                    &format!("{prefix}/{}/{slot}{ABSMAX}", t.name),
                    &[absmax.len()],
                    absmax,
                )?)?;
            }
            if !t.scalars.is_empty() {
                add(Tensor::from_slice(
                    &format!("{prefix}/{}/{SCALARS}", t.name),
                    &[t.scalars.len()],
                    &t.scalars,
                )?)?;
            }
        }
        if !self.globals.is_empty() {
            add(Tensor::from_slice(
                &format!("{prefix}/{GLOBALS}"),
                &[self.globals.len()],
                &self.globals,
            )?)?;
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
        for (i, inner) in self.inner.iter().enumerate() {
            inner.to_checkpoint(&inner_prefix(prefix, i), checkpoint)?;
        }
        Ok(())
    }

    /// The names of the checkpoint tensors [`OptimizerState::to_checkpoint`] writes
    /// for this state under `prefix` (so a reader can tell which tensors of a file
    /// are accounted for).
    pub fn checkpoint_tensor_names(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        for t in &self.tensors {
            for slot in self.slot_names.iter().take(t.buffer_count()) {
                out.push(format!("{prefix}/{}/{slot}", t.name));
                if !t.q8_slots.is_empty() {
                    out.push(format!("{prefix}/{}/{slot}{ABSMAX}", t.name));
                }
            }
            if !t.scalars.is_empty() {
                out.push(format!("{prefix}/{}/{SCALARS}", t.name));
            }
        }
        if !self.globals.is_empty() {
            out.push(format!("{prefix}/{GLOBALS}"));
        }
        for (i, inner) in self.inner.iter().enumerate() {
            out.extend(inner.checkpoint_tensor_names(&inner_prefix(prefix, i)));
        }
        out
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
        // Looked up by name once per buffer: an index keeps that linear in the tensors.
        let index: std::collections::HashMap<&str, &Tensor> = checkpoint
            .tensors
            .iter()
            .map(|t| (t.name.as_str(), t))
            .collect();
        let lookup = |name: String| -> Result<&Tensor> {
            index
                .get(name.as_str())
                .copied()
                .ok_or_else(|| bad(format!("tensor '{name}' is missing")))
        };
        let mut tensors = Vec::with_capacity(meta.tensors.len());
        for t in meta.tensors {
            // `len` is absent for a tensor without buffers (none named, or none created
            // yet by a rule that creates them lazily).
            if !t.shapes.is_empty() && t.shapes.len() != meta.slot_names.len() {
                return Err(bad(format!(
                    "optimizer tensor '{}': {} buffer shapes for {} slots",
                    t.name,
                    t.shapes.len(),
                    meta.slot_names.len()
                )));
            }
            let mut bf16_slots = Vec::new();
            let (mut q8_slots, mut q8_absmax) = (Vec::new(), Vec::new());
            let slots = match t.len {
                Some(_) if (t.bf16 || t.q8) && !t.shapes.is_empty() => {
                    return Err(bad(format!(
                        "optimizer tensor '{}': bf16 and 8-bit buffers are shaped like the \
                         tensor",
                        t.name
                    )))
                }
                Some(_) if t.bf16 && t.q8 => {
                    return Err(bad(format!(
                        "optimizer tensor '{}': buffers are either bf16 or 8-bit, not both",
                        t.name
                    )))
                }
                Some(len) if t.q8 && !meta.slot_names.is_empty() => {
                    let blocks = crate::optim::state_dtype::q8::blocks(len);
                    for slot in &meta.slot_names {
                        let name = format!("{prefix}/{}/{slot}", t.name);
                        q8_slots.push(lookup(name.clone())?.to_u8(&[len])?);
                        q8_absmax
                            .push(lookup(format!("{name}{ABSMAX}"))?.to_vec::<f32>(&[blocks])?);
                    }
                    Vec::new()
                }
                Some(len) if t.bf16 && !meta.slot_names.is_empty() => {
                    bf16_slots = meta
                        .slot_names
                        .iter()
                        .map(|slot| lookup(format!("{prefix}/{}/{slot}", t.name))?.to_bf16(&[len]))
                        .collect::<Result<Vec<_>>>()?;
                    Vec::new()
                }
                Some(_) if !t.shapes.is_empty() => meta
                    .slot_names
                    .iter()
                    .zip(&t.shapes)
                    .map(|(slot, shape)| {
                        lookup(format!("{prefix}/{}/{slot}", t.name))?.to_vec::<T>(shape)
                    })
                    .collect::<Result<Vec<_>>>()?,
                Some(len) if !meta.slot_names.is_empty() => meta
                    .slot_names
                    .iter()
                    .map(|slot| lookup(format!("{prefix}/{}/{slot}", t.name))?.to_vec::<T>(&[len]))
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
                lookup(format!("{prefix}/{}/{SCALARS}", t.name))?.to_vec::<f64>(&[t.scalars])?
            };
            tensors.push(TensorState {
                name: t.name,
                step: t.step,
                slots,
                scalars,
                shapes: t.shapes,
                bf16_slots,
                q8_slots,
                q8_absmax,
            });
        }
        // Each level's prefix is longer than its parent's, so there is no cycle; the
        // depth is capped so that a hostile file cannot exhaust the stack.
        if meta.inner > 0 && prefix.matches("/#inner").count() >= MAX_NESTING {
            return Err(bad(format!(
                "optimizer state '{prefix}' nests deeper than {MAX_NESTING} levels"
            )));
        }
        if meta.inner > MAX_TENSORS {
            return Err(bad(format!(
                "optimizer state '{prefix}' claims {} nested states",
                meta.inner
            )));
        }
        let globals = match meta.globals {
            0 => Vec::new(),
            n => lookup(format!("{prefix}/{GLOBALS}"))?.to_vec::<f64>(&[n])?,
        };
        let inner = (0..meta.inner)
            .map(|i| Self::from_checkpoint(&inner_prefix(prefix, i), checkpoint))
            .collect::<Result<Vec<_>>>()?;
        Ok(OptimizerState {
            algorithm: meta.algorithm,
            spec: meta.spec,
            slot_names: meta.slot_names,
            nonfinite: meta.nonfinite,
            skipped: meta.skipped,
            tensors,
            globals,
            inner,
        })
    }

    /// Checks the state against the tensors it will drive, `(name, length)`: every
    /// saved tensor must be one of them, with buffers of that length (buffers with
    /// shapes of their own are checked by the optimizer that reads them). Nested
    /// states are checked the same way.
    pub fn check_tensors(&self, expected: &[(&str, usize)]) -> Result<()> {
        for inner in &self.inner {
            inner.check_tensors(expected)?;
        }
        for t in &self.tensors {
            let Some(&(_, len)) = expected.iter().find(|(n, _)| *n == t.name) else {
                let names: Vec<&str> = expected.iter().map(|(n, _)| *n).collect();
                return Err(Error::StateMismatch(format!(
                    "the state has tensor '{}', which is not among [{}]",
                    t.name,
                    names.join(", ")
                )));
            };
            if !t.shapes.is_empty() {
                continue;
            }
            let lens = t.slots.iter().map(Vec::len);
            if let Some(l) = lens
                .chain(t.bf16_slots.iter().map(Vec::len))
                .chain(t.q8_slots.iter().map(Vec::len))
                .find(|&l| l != len)
            {
                return Err(Error::StateMismatch(format!(
                    "tensor '{}' has {len} elements but its saved state has {l}",
                    t.name
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
                    shapes: t.shapes.clone(),
                    // bfloat16 is bfloat16 whatever the parameters' type, and 8-bit
                    // state 8-bit.
                    bf16_slots: t.bf16_slots.clone(),
                    q8_slots: t.q8_slots.clone(),
                    q8_absmax: t.q8_absmax.clone(),
                })
                .collect(),
            globals: self.globals.clone(),
            inner: self.inner.iter().map(Self::cast).collect(),
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
        // A safetensors file that the reference crate reads as such.
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.len(), 3);
        assert_eq!(st.tensor("b/c").unwrap().shape(), &[1, 2]);
        for bytes in [bytes.clone(), c.encode_v1().unwrap()] {
            let d = Checkpoint::decode(&bytes).unwrap();
            assert_eq!(d, c);
            let a: Vec<f64> = d.tensor("a", &[3]).unwrap();
            assert_eq!(a[1], f64::INFINITY);
            assert_eq!(a[2].to_bits(), (-0.0f64).to_bits());
            let b: Vec<f32> = d.tensor("b/c", &[1, 2]).unwrap();
            assert_eq!(b[0].to_bits(), (f32::MIN_POSITIVE / 4.0).to_bits());
        }
        assert_eq!(Checkpoint::decode(&bytes).unwrap().encode().unwrap(), bytes);
        assert!(c.encode_v1().unwrap().starts_with(b"gradus-checkpoint 1 "));
    }

    #[test]
    fn refuses_a_header_spelt_otherwise_than_gradus_writes_it() {
        // Bytes the checksum cannot see, since it covers the values the header holds:
        // the padding after the safetensors JSON, and a number's spelling (`1e-8` and
        // `1E-8` are one value). Each change alone still parses; both are refused.
        let mut c = sample();
        // A note of the length that makes the header need padding to 8 bytes.
        let (good, n, pad) = (0..8)
            .find_map(|k| {
                c.meta = serde_json::json!({"lr": 1e-8, "note": "x".repeat(k)});
                let good = c.encode().unwrap();
                let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
                let pad = good[8..8 + n].iter().rposition(|&b| b == b'}').unwrap() + 1;
                (pad < n).then_some((good, n, pad))
            })
            .unwrap();
        assert!(Checkpoint::decode(&good).is_ok());
        let header = &good[8..8 + n];
        let mut tab = good.clone();
        tab[8 + pad] = b'\t';
        let e = Checkpoint::decode(&tab).unwrap_err().to_string();
        assert!(e.contains("padding is not spaces"), "{e}");
        let at = header.windows(4).position(|w| w == b"1e-8").unwrap() + 1;
        let mut upper = good.clone();
        upper[8 + at] = b'E';
        let e = Checkpoint::decode(&upper).unwrap_err().to_string();
        assert!(e.contains("not as gradus writes it"), "{e}");
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
        // Version 2: every flipped bit anywhere is refused; in the tensors' bytes and
        // the metadata, by the checksum.
        let bytes = sample().encode().unwrap();
        for cut in [0, 5, 30, bytes.len() / 2, bytes.len() - 1] {
            let e = Checkpoint::decode(&bytes[..cut]).unwrap_err();
            assert!(matches!(e, Error::Checkpoint(_)), "{cut}: {e}");
        }
        let header_end = 8 + Preamble::parse(&bytes).unwrap().header_bytes;
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            let e = Checkpoint::decode(&b).unwrap_err().to_string();
            if i >= header_end {
                assert!(e.contains("checksum"), "{i}: {e}");
            }
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let e = Checkpoint::decode(&longer).unwrap_err().to_string();
        assert!(e.contains("longer than written"), "{e}");
        let other = safetensors::tensor::serialize(
            [(
                "w",
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1], &[0; 4])
                    .unwrap(),
            )],
            None,
        )
        .unwrap();
        let e = Checkpoint::decode(&other).unwrap_err().to_string();
        assert!(e.contains("not a gradus checkpoint"), "{e}");

        // Version 1.
        let bytes = sample().encode_v1().unwrap();
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
        let v3 = String::from_utf8_lossy(&bytes).replacen("checkpoint 1 ", "checkpoint 3 ", 1);
        let e = Checkpoint::decode(v3.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("version 3 is not supported"), "{e}");
    }

    /// A file with `header` and no payload, with a valid checksum.
    fn with_header(header: &serde_json::Value) -> Vec<u8> {
        let mut h = serde_json::to_vec(header).unwrap();
        h.push(b'\n');
        let mut out = format!("{MAGIC} 1 {} 0 {:08x}\n", h.len(), crc32fast::hash(&h)).into_bytes();
        out.extend_from_slice(&h);
        out
    }

    #[test]
    fn decoding_is_linear_in_the_number_of_tensors() {
        // 200 000 empty tensors took more than 20 s when each name was compared with
        // every earlier one; linear, this is a fraction of a second.
        let tensors: Vec<serde_json::Value> = (0..200_000)
            .map(|i| serde_json::json!({"name": format!("t{i}"), "dtype": "f32", "shape": [0]}))
            .collect();
        let bytes = with_header(&serde_json::json!({"tensors": tensors, "meta": null}));
        let c = Checkpoint::decode(&bytes).unwrap();
        assert_eq!(c.tensors.len(), 200_000);
        // The optimizer state's lookups by name are linear too.
        let state = OptimizerState::<f32> {
            algorithm: "sgd".into(),
            spec: "sgd(lr=0.1, momentum=0.9)".into(),
            slot_names: vec!["momentum_buffer".into()],
            nonfinite: NonFinitePolicy::Error,
            skipped: 0,
            tensors: (0..100_000)
                .map(|i| TensorState {
                    name: format!("p{i}"),
                    step: 1,
                    slots: vec![vec![]],
                    scalars: vec![],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let mut c = Checkpoint::new(serde_json::json!({}));
        state.to_checkpoint("o", &mut c).unwrap();
        let d = Checkpoint::decode(&c.encode().unwrap()).unwrap();
        assert_eq!(
            OptimizerState::<f32>::from_checkpoint("o", &d).unwrap(),
            state
        );
        // A duplicate among many is still found.
        let mut tensors: Vec<serde_json::Value> = (0..1000)
            .map(|i| serde_json::json!({"name": format!("t{i}"), "dtype": "f64", "shape": []}))
            .collect();
        tensors.push(serde_json::json!({"name": "t7", "dtype": "f64", "shape": [0]}));
        let e = Checkpoint::decode(&with_header(
            &serde_json::json!({"tensors": tensors, "meta": null}),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("'t7' appears twice") || e.contains("does not fit"),
            "{e}"
        );
    }

    #[test]
    fn sizes_beyond_the_limits_are_refused_from_the_first_line_alone() {
        // Only the first line is given: the sizes are refused before any body is read.
        let huge = format!("{MAGIC} 1 {} 0 00000000\n", MAX_HEADER_BYTES + 1);
        let e = Preamble::parse(huge.as_bytes()).unwrap_err().to_string();
        assert!(
            e.contains("header size") && e.contains("larger than"),
            "{e}"
        );
        let huge = format!("{MAGIC} 1 10 {} 00000000\n", MAX_PAYLOAD_BYTES + 1);
        let e = Preamble::parse(huge.as_bytes()).unwrap_err().to_string();
        assert!(
            e.contains("payload size") && e.contains("larger than"),
            "{e}"
        );
        let over = format!("{MAGIC} 1 99999999999999999999999 0 00000000\n");
        assert!(Preamble::parse(over.as_bytes()).is_err());
        let ok = format!("{MAGIC} 1 10 16 0000abcd\nrest");
        let p = Preamble::parse(ok.as_bytes()).unwrap();
        assert_eq!((p.header_bytes, p.payload_bytes, p.crc), (10, 16, 0xabcd));
        assert_eq!(p.file_bytes(), ok.find('\n').unwrap() + 1 + 26);
        // A first line without a newline in its first 128 bytes is not read further.
        let mut long = MAGIC.as_bytes().to_vec();
        long.extend(std::iter::repeat_n(b'1', 1000));
        let e = Preamble::parse(&long).unwrap_err().to_string();
        assert!(e.contains("longer than 128"), "{e}");
        // Control characters of a damaged first line are escaped in the message.
        let e = Preamble::parse(format!("{MAGIC} 1 \u{1b}[31m\n").as_bytes())
            .unwrap_err()
            .to_string();
        assert!(!e.contains('\u{1b}'), "{e}");
        // Too many tensors are refused after the header parses, before the payload.
        let tensors: Vec<serde_json::Value> = (0..=MAX_TENSORS)
            .map(|_| serde_json::json!({"name": "", "dtype": "f32", "shape": [0]}))
            .collect();
        let e = Checkpoint::decode(&with_header(
            &serde_json::json!({"tensors": tensors, "meta": null}),
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("tensors; at most"), "{e}");
        // Version 2: the header length is judged from the first 8 bytes, the payload
        // size from the header, before anything else is read.
        let mut big = ((MAX_V2_HEADER_BYTES + 1) as u64).to_le_bytes().to_vec();
        big.push(b'{');
        let e = Preamble::prefix_bytes(&big).unwrap_err().to_string();
        assert!(e.contains("not a gradus checkpoint"), "{e}");
        let header = format!(
            "{{\"__metadata__\":{{\"{MAGIC}\":\"{{\\\"version\\\":2}}\"}},\"w\":{{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,{}]}}}}",
            MAX_PAYLOAD_BYTES + 8
        );
        let mut head = (header.len() as u64).to_le_bytes().to_vec();
        head.extend_from_slice(header.as_bytes());
        assert_eq!(Preamble::prefix_bytes(&head[..20]).unwrap(), head.len());
        let e = Preamble::parse(&head).unwrap_err().to_string();
        assert!(e.contains("payload of"), "{e}");
        let p = Preamble::parse(&sample().encode().unwrap()).unwrap();
        assert_eq!((p.version, p.payload_bytes), (2, 3 * 8 + 2 * 4));
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

    /// A state with buffers of their own shapes, optimizer-wide scalars and nested
    /// states (as per-tensor optimizers and combinators keep them).
    fn nested_state(depth: usize) -> OptimizerState<f64> {
        OptimizerState {
            algorithm: "outer".into(),
            spec: "outer".into(),
            slot_names: vec!["row".into(), "col".into()],
            tensors: vec![TensorState {
                name: "w".into(),
                step: 2,
                slots: vec![vec![1.0, 2.0], vec![3.0, 4.0, 5.0]],
                scalars: vec![0.5],
                shapes: vec![vec![2, 1], vec![1, 3]],
                ..Default::default()
            }],
            globals: vec![7.0, -0.0, f64::INFINITY],
            inner: match depth {
                0 => Vec::new(),
                _ => vec![nested_state(depth - 1), stepped::<f64>("adam").state()],
            },
            ..Default::default()
        }
    }

    #[test]
    fn shaped_buffers_globals_and_nested_states_round_trip() {
        let state = nested_state(2);
        let mut c = Checkpoint::new(serde_json::json!({}));
        state.to_checkpoint("optimizer", &mut c).unwrap();
        assert_eq!(c.tensors[0].shape, vec![2, 1]);
        assert!(c
            .tensors
            .iter()
            .any(|t| t.name == "optimizer/#inner1/w/exp_avg"));
        let d = Checkpoint::decode(&c.encode().unwrap()).unwrap();
        let back = OptimizerState::<f64>::from_checkpoint("optimizer", &d).unwrap();
        assert_eq!(back, state);
        assert_eq!(back.globals[1].to_bits(), (-0.0f64).to_bits());
        let mut named = state.checkpoint_tensor_names("optimizer");
        let mut stored: Vec<String> = c.tensors.iter().map(|t| t.name.clone()).collect();
        named.sort();
        stored.sort();
        assert_eq!(named, stored);
        // Own-shaped buffers are not held to the tensor's length; nested ones are.
        back.check_tensors(&[("w", 3), ("b", 1)]).unwrap();
        let e = back.check_tensors(&[("w", 4), ("b", 1)]).unwrap_err();
        assert!(e.to_string().contains("'w' has 4 elements"), "{e}");
        assert_eq!(back.slot("b", "exp_avg").map(<[f64]>::len), Some(1));
        assert_eq!(state.cast::<f32>().cast::<f64>().inner.len(), 2);

        // Nesting beyond the cap is refused, not recursed into.
        let mut c = Checkpoint::new(serde_json::json!({}));
        nested_state(MAX_NESTING + 1)
            .to_checkpoint("optimizer", &mut c)
            .unwrap();
        let e = OptimizerState::<f64>::from_checkpoint("optimizer", &c).unwrap_err();
        assert!(e.to_string().contains("nests deeper"), "{e}");
    }
}
