//! `gradus report --quick`: writes an index.html whose every image link points at a
//! file that exists and is a real PNG or GIF.

use std::path::Path;
use std::process::Command;

fn images(html: &str) -> Vec<String> {
    html.split("<img src=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

fn check_image(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let name = path.display().to_string();
    if name.ends_with(".png") {
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{name}");
        // IHDR: width and height, big-endian, at bytes 16..24.
        let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
        // 900 × 600, or 1200 × 900 for small multiples.
        assert!(
            matches!((w, h), (900, 600) | (1200, 900)),
            "{name}: {w}×{h}"
        );
    } else if name.ends_with(".gif") {
        assert_eq!(&bytes[..6], b"GIF89a", "{name}");
        let w = u16::from_le_bytes([bytes[6], bytes[7]]);
        let h = u16::from_le_bytes([bytes[8], bytes[9]]);
        assert!(w >= 300 && h >= 200, "{name}: {w}×{h}");
        // More than one frame: several image descriptors (0x2C after a graphic control block).
        let frames = bytes.windows(2).filter(|w| w == &[0x00, 0x2C]).count();
        assert!(frames > 1, "{name}: {frames} frames");
    } else {
        panic!("unexpected image type: {name}");
    }
}

#[test]
fn quick_report_links_only_files_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report");
    let result = Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args(["report", "--quick", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    // The last line of stdout is the path to open.
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert_eq!(stdout.trim(), out.join("index.html").display().to_string());
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let imgs = images(&html);
    assert!(imgs.len() >= 20, "{} images", imgs.len());
    for img in &imgs {
        assert!(
            !img.contains('/') && !img.starts_with('.'),
            "relative link: {img}"
        );
        check_image(&out.join(img));
    }
    // The Muon vs AdamW vs Adafactor section, with its sweep, loss and accuracy figures.
    assert!(html.contains(
        "<section id=\"sec-muon\"><h2>Muon vs AdamW vs Adafactor on the digits MLP</h2>"
    ));
    for img in ["muon_sweep.png", "muon_loss.png", "muon_accuracy.png"] {
        assert!(imgs.iter().any(|i| i == img), "{img} not linked");
        assert!(out.join(img).exists(), "{img} not written");
    }
    assert!(html.contains("gradus compare --problem digits --batch-size 64 --seed 0 --steps 200"));
    assert!(html.contains("--plot-accuracy muon_accuracy.png"));
    // Every figure shows the command that reproduces it.
    assert!(html.matches("<pre>gradus ").count() >= 15);
    assert!(!html.contains("This figure failed"));
}
