//! What every hyperparameter table must satisfy, checked over the whole catalog: the
//! table is what the spec reads and prints, its defaults build, and every value outside
//! a stated range is refused with an error that names the key and prints the range.

use gradus::catalog::{self, Algorithm, HyperParam};
use gradus::spec::Call;
use gradus::{optim, schedule, Error};

/// A call with the required arguments filled in from a known-good example.
fn base_call(a: &Algorithm) -> String {
    base_call_without(a, "")
}

/// [`base_call`] without the argument `skip`.
fn base_call_without(a: &Algorithm, skip: &str) -> String {
    let required: &[(&str, &str)] = &[
        ("step_size", "3"),
        ("gamma", "0.9"),
        ("milestones", "[2, 4]"),
        ("t_max", "10"),
        ("t_0", "5"),
        ("max_lr", "0.1"),
        ("total_steps", "20"),
        ("schedulers", "[linear, exponential(0.9)]"),
        ("boundaries", "[5]"),
        ("values", "[0.1, 0.01]"),
        ("lam", "0.1"),
        ("beta", "0.1"),
        ("alpha", "0.5"),
        ("base_lr", "0.01"),
        ("swa_lr", "0.05"),
    ];
    let args: Vec<String> = a
        .params
        .iter()
        .filter(|p| p.required && p.name != skip)
        .map(|p| {
            let v = required
                .iter()
                .find(|(k, _)| *k == p.name)
                .unwrap_or_else(|| panic!("no example for required {}.{}", a.name, p.name));
            let v = if a.name == "sequential" && p.name == "milestones" {
                "[5]"
            } else {
                v.1
            };
            format!("{}={v}", p.name)
        })
        .collect();
    format!("{}({})", a.name, args.join(", "))
}

fn build(kind: &str, spec: &str) -> gradus::Result<Call> {
    if kind == "schedule" {
        schedule::build(spec, 0.1, Some(0.9)).map(|s| s.spec())
    } else {
        optim::build::<f64>(spec).map(|o| o.spec())
    }
}

/// Every algorithm that a spec can build (the closure schedules, library only, have
/// their own test below).
fn everything() -> Vec<Algorithm> {
    let mut all = catalog::optimizers();
    all.extend(
        catalog::schedules()
            .into_iter()
            .filter(|a| !schedule::LIBRARY_ONLY.contains(&a.name)),
    );
    all
}

/// A JSON number as the spec language prints it.
fn number(n: &serde_json::Number) -> String {
    if n.is_u64() || n.is_i64() {
        n.to_string()
    } else {
        gradus::spec::fmt_value(n.as_f64().unwrap())
    }
}

#[test]
fn tables_are_what_the_specs_read_and_print() {
    for a in everything().iter().filter(|a| a.name != "newton") {
        let spec = build(a.kind, &base_call(a)).unwrap();
        let printed: Vec<&str> = spec.keywords.iter().map(|(k, _)| k.as_str()).collect();
        let mut table: Vec<&str> = a.params.iter().map(|p| p.name).collect();
        if table.last() == Some(&"state_dtype") {
            // `state_dtype` is printed only when it is not the default (`param`), so
            // that the specs of full-precision runs read as they always have; set, it is
            // printed last, where the table lists it.
            let set = format!("{}(state_dtype=bf16)", a.name);
            let with = optim::build::<f64>(&set).unwrap().spec().to_string();
            assert!(with.ends_with("state_dtype=bf16)"), "{}: {with}", a.name);
            table.pop();
        }
        assert_eq!(printed, table, "{}", a.name);
        // Defaults in the table are the defaults the spec prints.
        for (p, (_, v)) in a.params.iter().zip(&spec.keywords) {
            if p.kind == "spec" {
                // A wrapper prints its inner optimizer's full spec: the same optimizer
                // as the table's default.
                let default = p.default.as_str().unwrap();
                let full = |s: &str| optim::build::<f64>(s).unwrap().spec();
                assert_eq!(full(&v.to_string()), full(default), "{}.{}", a.name, p.name);
            } else if !p.required && p.kind != "spec_list" {
                let shown = v.to_string();
                let want = match &p.default {
                    serde_json::Value::Bool(b) => b.to_string(),
                    serde_json::Value::Null if p.kind == "optional_float" => "none".into(),
                    serde_json::Value::String(s) => s.clone(),
                    // Integers print as integers (`max_iter=20`), other numbers as floats.
                    serde_json::Value::Number(n) => number(n),
                    serde_json::Value::Array(x) => {
                        let inner: Vec<String> = x
                            .iter()
                            .map(|n| match n {
                                serde_json::Value::Number(n) => number(n),
                                serde_json::Value::Null => "none".into(),
                                other => panic!("{}.{}: default {other}", a.name, p.name),
                            })
                            .collect();
                        if p.kind == "pair" {
                            format!("({})", inner.join(", "))
                        } else {
                            format!("[{}]", inner.join(", "))
                        }
                    }
                    serde_json::Value::Null => "none".to_string(),
                    other => panic!("{}.{}: default {other}", a.name, p.name),
                };
                assert_eq!(shown, want, "{}.{}", a.name, p.name);
            }
        }
        assert!(!a.summary.is_empty() && a.params.iter().all(|p| !p.doc.is_empty()));
    }
}

/// A value just outside each finite bound of `p`'s range.
fn outside(p: &HyperParam) -> Vec<f64> {
    let mut v = Vec::new();
    let step = if p.kind == "int" { 1.0 } else { 0.5 };
    if let Some(lo) = p.min {
        v.push(if p.min_inclusive { lo - step } else { lo });
    }
    if let Some(hi) = p.max {
        v.push(if p.max_inclusive { hi + step } else { hi });
    }
    if p.kind == "float" {
        v.push(f64::NAN);
    }
    v
}

#[test]
fn values_outside_the_range_are_refused_naming_the_key_and_range() {
    let mut checked = 0;
    for a in everything() {
        for p in a
            .params
            .iter()
            .filter(|p| matches!(p.kind, "float" | "int" | "pair"))
        {
            for x in outside(p) {
                if p.kind == "int" && x < 0.0 {
                    continue; // not an integer at all: refused by the reader, tested elsewhere
                }
                let value = if p.kind == "pair" {
                    format!("({x}, {x})")
                } else {
                    format!("{x}")
                };
                let call = base_call_without(&a, p.name);
                let spec = if call.ends_with("()") {
                    format!("{}({}={value})", a.name, p.name)
                } else {
                    format!("{}, {}={value})", &call[..call.len() - 1], p.name)
                }
                .replace("(, ", "(");
                let err = if a.name == "newton" {
                    optim::NewtonConfig::from_call(&gradus::spec::parse(&spec).unwrap()).map(|_| ())
                } else {
                    build(a.kind, &spec).map(|_| ())
                };
                match err {
                    Err(Error::InvalidHyperparameter {
                        param, expected, ..
                    }) => {
                        assert!(param.starts_with(p.name), "{spec}: blamed {param}");
                        if p.kind != "pair" {
                            assert_eq!(expected, p.range, "{spec}");
                        }
                        checked += 1;
                    }
                    other => panic!("{spec}: {other:?}"),
                }
            }
        }
    }
    assert!(checked > 60, "{checked}");
}

#[test]
fn nonsense_torch_lets_through_is_refused() {
    for spec in [
        "rmsprop(alpha=1.5)",
        "sgd(nesterov=true)",
        "sgd(momentum=0.9, dampening=0.5, nesterov=true)",
        "sgd(momentum=1.5)",
        "adamw(decoupled_weight_decay=false)",
    ] {
        assert!(optim::build::<f64>(spec).is_err(), "{spec}");
    }
}

#[test]
fn adamw_is_a_preset_of_adam() {
    let w = catalog::optimizer("adamw").unwrap();
    let a = catalog::optimizer("adam").unwrap();
    assert_eq!(w.params.len() + 1, a.params.len());
    let wd = w.params.iter().find(|p| p.name == "weight_decay").unwrap();
    assert_eq!(wd.default, serde_json::json!(0.01));
    assert_eq!(
        optim::build::<f64>("adamw(lr=0.1)").unwrap().spec().to_string(),
        "adamw(lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=false, maximize=false)"
    );
}

#[test]
fn closure_schedules_are_listed_as_library_only_and_refused_from_specs() {
    for name in schedule::LIBRARY_ONLY {
        let a = catalog::schedule(name).unwrap();
        assert_eq!(a.kind, "schedule");
        assert!(a.summary.starts_with("library only: takes a Rust closure"));
        assert!(a.params.is_empty());
        match schedule::build(name, 0.1, None) {
            Err(Error::Unsupported(msg)) => assert!(msg.contains("Rust closure"), "{msg}"),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn the_catalog_is_json_data() {
    let json = serde_json::to_value(catalog::optimizers()).unwrap();
    let lr = &json[0]["params"][0];
    assert_eq!(lr["name"], "lr");
    assert_eq!(lr["log_scale"], true);
    let one_cycle = catalog::schedule("one_cycle").unwrap();
    let anneal = one_cycle
        .params
        .iter()
        .find(|p| p.name == "anneal_strategy")
        .unwrap();
    assert_eq!(anneal.choices, vec!["cos", "linear"]);
    assert_eq!(anneal.default, serde_json::json!("cos"));
}

#[test]
fn positional_arguments_follow_the_table_order() {
    // Every default written positionally, in table order, reads back as the defaults.
    for a in everything()
        .iter()
        .filter(|a| a.params.iter().all(|p| !p.required))
    {
        let keywords = build(a.kind, a.name).unwrap();
        let positional: Vec<String> = keywords
            .keywords
            .iter()
            .map(|(_, v)| v.to_string())
            .collect();
        let spec = format!("{}({})", a.name, positional.join(", "));
        assert_eq!(build(a.kind, &spec).unwrap(), keywords, "{spec}");
        let too_many = format!("{}({}, 1)", a.name, positional.join(", "));
        assert!(build(a.kind, &too_many).is_err(), "{too_many}");
    }
}
