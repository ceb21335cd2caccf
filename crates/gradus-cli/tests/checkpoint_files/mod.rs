//! Helpers shared by the binary's tests that edit checkpoint files.

use std::path::Path;

/// Rewrites a checkpoint file's header with `edit` and a fresh checksum, so that only
/// the edited content is wrong.
pub fn tamper(path: &Path, out: &Path, edit: impl Fn(&mut serde_json::Value)) {
    let bytes = std::fs::read(path).unwrap();
    let nl = bytes.iter().position(|&b| b == b'\n').unwrap();
    let first = std::str::from_utf8(&bytes[..nl]).unwrap();
    let f: Vec<&str> = first.split(' ').collect();
    let hlen: usize = f[2].parse().unwrap();
    let body = &bytes[nl + 1..];
    let mut header: serde_json::Value = serde_json::from_slice(&body[..hlen]).unwrap();
    edit(&mut header);
    let mut h = serde_json::to_vec(&header).unwrap();
    h.push(b'\n');
    let payload = &body[hlen..];
    let mut crc = crc32fast::Hasher::new();
    crc.update(&h);
    crc.update(payload);
    let mut out_bytes = format!(
        "{} {} {} {} {:08x}\n",
        f[0],
        f[1],
        h.len(),
        payload.len(),
        crc.finalize()
    )
    .into_bytes();
    out_bytes.extend_from_slice(&h);
    out_bytes.extend_from_slice(payload);
    std::fs::write(out, out_bytes).unwrap();
}
