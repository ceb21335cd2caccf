//! Every schedule against learning rates recorded from torch.optim.lr_scheduler
//! (fixture `tests/fixtures/schedules_torch.json`, made by
//! `tools/schedule_fixtures.py`): the lr (and the cycled momentum) of each update must
//! agree to 1e-12 relative. The fixture also stores each value's bits; the test
//! reports how many match exactly (all of them on x86-64 Linux with glibc's libm).

use gradus::schedule;

#[derive(serde::Deserialize)]
struct Case {
    spec: String,
    optimizer: String,
    base_lr: f64,
    base_momentum: Option<f64>,
    metrics: Option<Vec<f64>>,
    lrs: Vec<f64>,
    lr_bits: Vec<u64>,
    momenta: Option<Vec<f64>>,
    momentum_bits: Option<Vec<u64>>,
}

#[derive(serde::Deserialize)]
struct Fixture {
    torch_version: String,
    cases: Vec<Case>,
}

fn rel(a: f64, b: f64) -> f64 {
    if a == b {
        0.0
    } else {
        (a - b).abs() / a.abs().max(b.abs())
    }
}

#[test]
fn every_schedule_matches_torch() {
    let text = include_str!("fixtures/schedules_torch.json");
    let fixture: Fixture = serde_json::from_str(text).unwrap();
    assert!(fixture.cases.len() >= 30);
    let names: std::collections::BTreeSet<String> = fixture
        .cases
        .iter()
        .map(|c| gradus::spec::parse(&c.spec).unwrap().name)
        .collect();
    for (name, _) in schedule::names() {
        assert!(names.contains(name), "no torch fixture for {name}");
    }
    let (mut values, mut exact) = (0usize, 0usize);
    for case in &fixture.cases {
        assert!(case.optimizer == "sgd" || case.optimizer == "adam");
        let mut s = schedule::build(&case.spec, case.base_lr, case.base_momentum)
            .unwrap_or_else(|e| panic!("{}: {e}", case.spec));
        let n = case.lrs.len() - 1;
        for k in 0..=n {
            let want = f64::from_bits(case.lr_bits[k]);
            assert!(rel(want, case.lrs[k]) <= 1e-15);
            let got = s.lr();
            assert!(
                rel(got, want) <= 1e-12,
                "{} (torch {}), update {k}: gradus {got:e}, torch {want:e}",
                case.spec,
                fixture.torch_version
            );
            values += 1;
            exact += usize::from(got.to_bits() == want.to_bits());
            if let (Some(_), Some(bits)) = (&case.momenta, &case.momentum_bits) {
                let want = f64::from_bits(bits[k]);
                // No cycled momentum means the optimizer keeps its own (0.9 here).
                let got = s.momentum().unwrap_or(0.9);
                assert!(
                    rel(got, want) <= 1e-12,
                    "{} momentum, update {k}: gradus {got:e}, torch {want:e}",
                    case.spec
                );
                values += 1;
                exact += usize::from(got.to_bits() == want.to_bits());
            }
            if k < n {
                let metric = case.metrics.as_ref().map_or(0.0, |m| m[k]);
                s.step(metric);
            }
        }
    }
    println!(
        "{exact} of {values} values bit-identical to torch {}",
        fixture.torch_version
    );
}
