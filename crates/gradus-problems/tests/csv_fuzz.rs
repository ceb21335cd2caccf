//! Bounded fuzzing (proptest, fixed seed and case count) of the CSV reader and the
//! standardization behind `--problem linreg --data FILE`: whatever the text, it returns
//! a data set or an error and never panics, and what it accepts is consistent.
//!
//! Cases: 10 000.

use gradus_problems::data::{parse_csv, Standardization};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// One cell: numbers of every awkward kind, text, quotes, separators, control bytes.
fn cell() -> impl Strategy<Value = String> {
    prop_oneof![
        30 => (-100i32..100).prop_map(|v| v.to_string()),
        4 => any::<f64>().prop_map(|v| format!("{v:?}")),
        1 => Just("1e160".to_string()),
        1 => Just("-1e308".to_string()),
        1 => Just("5e-324".to_string()),
        1 => Just("nan".to_string()),
        1 => Just("inf".to_string()),
        1 => Just(String::new()),
        1 => Just("\"1,5\"".to_string()),
        1 => Just("\"unterminated".to_string()),
        1 => Just("y".to_string()),
        1 => Just("x".to_string()),
        1 => Just("\u{1b}[31m".to_string()),
        1 => "[a-z ]{0,5}",
    ]
}

fn csv_text() -> impl Strategy<Value = (String, bool)> {
    (
        prop::collection::vec(
            prop_oneof![
                6 => prop::collection::vec(cell(), 3..=3),
                1 => prop::collection::vec(cell(), 1..5),
            ],
            0..8,
        ),
        any::<bool>(),
        prop_oneof![Just("\n"), Just("\r\n")],
    )
        .prop_map(|(rows, bom, eol)| {
            let mut text = String::new();
            if bom {
                text.push('\u{feff}');
            }
            // A header that usually names the target, then the rows.
            text.push_str("a,b,y");
            text.push_str(eol);
            for r in rows {
                text.push_str(&r.join(","));
                text.push_str(eol);
            }
            (text, bom)
        })
}

#[test]
fn csv_reader_fuzz() {
    let config = Config {
        cases: 10_000,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[3u8; 32]));
    let (ran, parsed, fitted) = (
        std::cell::Cell::new(0u32),
        std::cell::Cell::new(0u32),
        std::cell::Cell::new(0u32),
    );
    runner
        .run(&csv_text(), |(text, _)| {
            ran.set(ran.get() + 1);
            let Ok(d) = parse_csv(text.as_bytes(), "fuzz.csv", "y", None) else {
                return Ok(());
            };
            parsed.set(parsed.get() + 1);
            prop_assert_eq!(d.x.len(), d.rows * d.cols);
            prop_assert_eq!(d.y.len(), d.rows);
            prop_assert!(d.x.iter().chain(&d.y).all(|v| v.is_finite()));
            if let Ok(s) = Standardization::fit(&d) {
                fitted.set(fitted.get() + 1);
                prop_assert!(s.feature_std.iter().all(|v| v.is_finite() && *v > 0.0));
                prop_assert!(s.target_std.is_finite() && s.target_std > 0.0);
                let z = s.apply(&d);
                prop_assert!(z.x.iter().chain(&z.y).all(|v| v.is_finite()), "{:?}", d);
            }
            Ok(())
        })
        .unwrap();
    let (ran, parsed, fitted) = (ran.get(), parsed.get(), fitted.get());
    assert_eq!(ran, 10_000);
    assert!(
        parsed > 1000 && fitted > 300,
        "parsed {parsed}, fitted {fitted}"
    );
}
