//! Bounded fuzzing (proptest, fixed seed and case counts, so CI runs the same cases
//! every time) of the two decoders that read untrusted text: the spec parser and the
//! checkpoint decoder. The checkpoint cases carry a *valid* checksum around a hostile
//! header, so they reach the code behind the CRC (sizes, shapes, names, optimizer
//! state), which damaged files alone never do.
//!
//! Cases: spec text 20 000, hostile checkpoint headers 10 000, optimizer state from
//! hostile metadata 5000 (about a second in the debug test profile).

use gradus::checkpoint::{Checkpoint, Preamble, Tensor, MAGIC, MAX_TENSORS};
use gradus::optim::OptimizerState;
use gradus::spec;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// A runner with a fixed seed: the same cases on every machine and every run.
fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[7u8; 32]))
}

/// Spec-like text: the grammar's pieces, control characters, deep nesting, long runs.
fn spec_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("adam".to_string()),
        Just("sgd".to_string()),
        Just("one_cycle".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just("=".to_string()),
        Just("lr".to_string()),
        Just("betas".to_string()),
        Just("1e400".to_string()),
        Just("-0.0".to_string()),
        Just("nan".to_string()),
        Just("0x10".to_string()),
        Just("\u{1b}[31m".to_string()),
        Just("\u{0}".to_string()),
        Just("é".to_string()),
        Just(" ".to_string()),
        "[0-9.eE+-]{1,12}",
        "[a-z_]{1,8}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop_oneof![
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat()),
        (1usize..2000).prop_map(|n| format!("adam(betas={}", "(".repeat(n))),
        (1usize..200).prop_map(|n| format!("sgd(lr={})", "[".repeat(n) + &"]".repeat(n))),
    ]
}

#[test]
fn spec_parser_fuzz() {
    let ran = std::cell::Cell::new(0u32);
    runner(20_000)
        .run(&spec_text(), |text| {
            ran.set(ran.get() + 1);
            if let Ok(c) = spec::parse(&text) {
                // What parses prints as text that parses to the same call.
                let again = spec::parse(&c.to_string()).expect("printed spec parses");
                prop_assert_eq!(again, c);
            } else {
                let e = spec::parse(&text).unwrap_err().to_string();
                prop_assert!(!e.is_empty());
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(ran.get(), 20_000);
}

/// One header entry: names that collide, dtypes that exist or not, shapes from empty
/// to astronomically large.
fn entry() -> impl Strategy<Value = serde_json::Value> {
    let dim = prop_oneof![
        0u64..4,
        Just(1u64 << 32),
        Just(u64::MAX),
        Just(1_000_000_000_000),
    ];
    (
        prop_oneof![
            Just("a".to_string()),
            Just("opt/x/exp_avg".to_string()),
            "[a-z/#]{0,6}"
        ],
        prop_oneof![Just("f32"), Just("f64"), Just("f16")],
        prop::collection::vec(dim, 0..4),
    )
        .prop_map(|(name, dtype, shape)| serde_json::json!({"name": name, "dtype": dtype, "shape": shape}))
}

/// Bytes with a valid first line and checksum around `header` and `payload`.
fn framed(header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(header);
    crc.update(payload);
    let mut out = format!(
        "{MAGIC} 1 {} {} {:08x}\n",
        header.len(),
        payload.len(),
        crc.finalize()
    )
    .into_bytes();
    out.extend_from_slice(header);
    out.extend_from_slice(payload);
    out
}

#[test]
fn checkpoint_decoder_fuzz() {
    let strategy = (
        prop::collection::vec(entry(), 0..6),
        prop::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
    );
    let ran = std::cell::Cell::new(0u32);
    let accepted = std::cell::Cell::new(0u32);
    runner(10_000)
        .run(&strategy, |(entries, payload, as_text)| {
            ran.set(ran.get() + 1);
            let header = if as_text {
                // Not even JSON, behind a valid checksum.
                serde_json::to_vec(&entries).unwrap()[1..].to_vec()
            } else {
                serde_json::to_vec(&serde_json::json!({"tensors": entries, "meta": {}})).unwrap()
            };
            let bytes = framed(&header, &payload);
            let pre = Preamble::parse(&bytes).expect("a valid first line");
            prop_assert_eq!(pre.file_bytes(), bytes.len());
            if let Ok(c) = Checkpoint::decode(&bytes) {
                accepted.set(accepted.get() + 1);
                // Accepted means consistent: unique names, shapes that fill the payload.
                prop_assert!(c.tensors.len() <= MAX_TENSORS);
                let mut names: Vec<&str> = c.tensors.iter().map(|t| t.name.as_str()).collect();
                names.sort();
                names.dedup();
                prop_assert_eq!(names.len(), c.tensors.len());
                let bytes_used: usize = c
                    .tensors
                    .iter()
                    .map(|t| {
                        t.len()
                            * if t.dtype() == gradus::DType::F32 {
                                4
                            } else {
                                8
                            }
                    })
                    .sum();
                prop_assert_eq!(bytes_used, payload.len());
                // And it re-encodes to a file that decodes to the same checkpoint.
                let again = Checkpoint::decode(&c.encode().unwrap()).unwrap();
                prop_assert_eq!(again, c);
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(ran.get(), 10_000);
    // The generator reaches both outcomes.
    let (accepted, ran) = (accepted.get(), ran.get());
    assert!(
        accepted > 0 && accepted < ran,
        "{accepted} of {ran} accepted"
    );
}

#[test]
fn optimizer_state_from_hostile_metadata_fuzz() {
    let count = prop_oneof![0u64..4, Just(u64::MAX), Just(1 << 40)];
    let tensor = (
        "[a-z]{1,2}",
        any::<u64>(),
        prop::option::of(count.clone()),
        count,
    )
        .prop_map(|(name, step, len, scalars)| {
            serde_json::json!({"name": name, "step": step, "len": len, "scalars": scalars})
        });
    let strategy = (
        prop::collection::vec(tensor, 0..4),
        prop::collection::vec(
            prop_oneof![Just("exp_avg"), Just("momentum_buffer"), Just("")],
            0..3,
        ),
        prop_oneof![Just("f32"), Just("f64")],
    );
    let ran = std::cell::Cell::new(0u32);
    runner(5000)
        .run(&strategy, |(tensors, slots, dtype)| {
            ran.set(ran.get() + 1);
            let meta = serde_json::json!({"o": {
                "algorithm": "adam", "spec": "adam()", "dtype": dtype, "slot_names": slots,
                "nonfinite": "error", "skipped": 0, "tensors": tensors,
            }});
            let c = Checkpoint::new(meta);
            // No tensors are stored, so every state with a buffer is refused, by name;
            // none panics or allocates by the sizes it claims.
            match OptimizerState::<f64>::from_checkpoint("o", &c) {
                Ok(s) => prop_assert!(s.tensors.iter().all(|t| t.slots.iter().all(Vec::is_empty))),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            Ok(())
        })
        .unwrap();
    assert_eq!(ran.get(), 5000);
}

/// Version 2 (safetensors): any byte of a valid file changed, or the file cut short,
/// never panics; a changed file is refused, or (a change inside the JSON header's
/// padding) decodes to exactly the original.
#[test]
fn safetensors_checkpoint_damage_fuzz() {
    let mut c = Checkpoint::new(serde_json::json!({"step": 3, "spec": "adam(lr=0.01)"}));
    c.push(
        Tensor::from_slice(
            "optimizer/w/exp_avg",
            &[2, 3],
            &[1.5f64, -0.0, 2.0, 3.0, f64::NAN, 1e-300],
        )
        .unwrap(),
    )
    .unwrap();
    c.push(Tensor::from_slice("w", &[3], &[1.0f32, 2.0, -3.0]).unwrap())
        .unwrap();
    let good = c.encode().unwrap();
    let len = good.len();
    let strategy = (0..len, any::<u8>(), 0..=len);
    runner(5_000)
        .run(&strategy, |(at, byte, cut)| {
            let mut bad = good.clone();
            bad[at] = byte;
            bad.truncate(if cut < len / 4 { cut } else { len });
            match Checkpoint::decode(&bad) {
                Ok(d) => {
                    prop_assert_eq!(d.encode().unwrap(), good.clone());
                }
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            Ok(())
        })
        .unwrap();
}
