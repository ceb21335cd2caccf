//! Helpers shared by the binary's tests that edit checkpoint files.

use std::path::Path;

/// Rewrites a checkpoint file's header with `edit` and a fresh checksum, so that only
/// the edited content is wrong.
pub fn tamper(path: &Path, out: &Path, edit: impl Fn(&mut serde_json::Value)) {
    use gradus::checkpoint::{Checkpoint, Tensor, TensorData};
    let c = Checkpoint::decode(&std::fs::read(path).unwrap()).unwrap();
    // The editable view: the metadata, and each tensor's name, dtype and shape.
    let listing: Vec<serde_json::Value> = c
        .tensors
        .iter()
        .map(|t| serde_json::json!({"name": t.name, "dtype": t.dtype().to_string(), "shape": t.shape}))
        .collect();
    let mut h = serde_json::json!({"meta": c.meta, "tensors": listing});
    edit(&mut h);
    let mut back = Checkpoint::new(h["meta"].clone());
    for (i, e) in h["tensors"].as_array().unwrap().iter().enumerate() {
        let name = e["name"].as_str().unwrap().to_string();
        let shape: Vec<usize> = serde_json::from_value(e["shape"].clone()).unwrap();
        // Listed tensors keep their values (under a possibly new name); added ones are zeros.
        let data = match c.tensors.get(i) {
            Some(t) => t.data.clone(),
            None => {
                let n = shape.iter().product();
                match e["dtype"].as_str().unwrap() {
                    "f32" => TensorData::F32(vec![0.0; n]),
                    _ => TensorData::F64(vec![0.0; n]),
                }
            }
        };
        back.tensors.push(Tensor { name, shape, data });
    }
    std::fs::write(out, back.encode().unwrap()).unwrap();
}
