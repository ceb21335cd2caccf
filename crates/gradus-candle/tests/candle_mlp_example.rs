//! The `candle_mlp` example reaches ≥ 95 % test accuracy on the digits.

#[path = "../examples/candle_mlp.rs"]
mod candle_mlp;

#[test]
fn adam_reaches_95_percent() {
    let acc = candle_mlp::train("adam(lr=0.001)", 50, false).unwrap();
    assert!(acc >= 0.95, "adam: {acc}");
}

#[test]
fn adamw_reaches_95_percent() {
    let acc = candle_mlp::train("adamw(lr=0.002)", 50, false).unwrap();
    assert!(acc >= 0.95, "adamw: {acc}");
}

#[test]
fn nadam_reaches_95_percent() {
    match candle_mlp::train("nadam(lr=0.002)", 50, false) {
        Ok(acc) => assert!(acc >= 0.95, "nadam: {acc}"),
        Err(e) => panic!("nadam: {e}"),
    }
}

#[test]
fn a_bad_spec_is_an_error() {
    assert!(candle_mlp::train("adam(lr=", 1, false).is_err());
}

/// The adapter passes each variable's shape, so a partition trains the MLP's weight
/// matrices with Muon and its biases with AdamW.
#[test]
fn muon_via_partition_reaches_95_percent() {
    let spec = "partition(matrices=muon(lr=0.02), rest=adamw(lr=0.002))";
    let acc = candle_mlp::train(spec, 50, false).unwrap();
    assert!(acc >= 0.95, "muon + adamw: {acc}");
}
