use super::*;

fn feed<T: Float>(avg: &mut Averaging<T>, name: &str, x: &[T]) {
    avg.update(&[(name, x, &[][..])]).unwrap();
}

#[test]
fn swa_is_the_exact_running_mean() {
    // Integers: every partial mean of 0, 2, 4, ... is exact in f64 and f32.
    let mut a64 = Averaging::<f64>::build("swa()").unwrap();
    let mut a32 = Averaging::<f32>::build("swa()").unwrap();
    for t in 0..9 {
        feed(&mut a64, "w", &[2.0 * t as f64, -3.0]);
        feed(&mut a32, "w", &[2.0 * t as f32, -3.0]);
        assert_eq!(a64.get("w").unwrap(), &[t as f64, -3.0]);
        assert_eq!(a32.get("w").unwrap(), &[t as f32, -3.0]);
    }
    assert_eq!(a64.n_averaged(), 9);
}

#[test]
fn swa_follows_torch_formula_to_the_bit() {
    let xs = [0.1, 0.7, -0.3, 1e-3, 5.5];
    let mut avg = Averaging::<f64>::build("swa()").unwrap();
    let mut by_hand = 0.0f64;
    for (n, &x) in xs.iter().enumerate() {
        feed(&mut avg, "w", &[x]);
        by_hand = if n == 0 {
            x
        } else {
            by_hand + (x - by_hand) / (n as f64 + 1.0)
        };
        assert_eq!(avg.get("w").unwrap()[0].to_bits(), by_hand.to_bits());
    }
}

#[test]
fn ema_first_update_copies_then_follows_get_ema_avg_fn() {
    let mut avg = Averaging::<f32>::build("ema(decay=0.9)").unwrap();
    feed(&mut avg, "w", &[3.0f32]);
    assert_eq!(avg.get("w").unwrap(), &[3.0]);
    feed(&mut avg, "w", &[1.0f32]);
    // decay and 1 − decay (in double) each rounded to f32, as torch multiplies a
    // float32 tensor by a Python float.
    let expect = 0.9f32 * 3.0 + (1.0f64 - 0.9) as f32 * 1.0;
    assert_eq!(avg.get("w").unwrap()[0].to_bits(), expect.to_bits());
    // The default decay is torch's 0.999.
    match Averaging::<f64>::build("ema()").unwrap().rule() {
        AveragingRule::Ema(c) => assert_eq!(c.decay, 0.999),
        r => panic!("{r:?}"),
    }
}

#[test]
fn ema_decay_zero_and_one_are_the_ends() {
    let mut last = Averaging::<f64>::build("ema(decay=0)").unwrap();
    let mut first = Averaging::<f64>::build("ema(decay=1)").unwrap();
    for x in [1.0, 2.0, 7.0] {
        feed(&mut last, "w", &[x]);
        feed(&mut first, "w", &[x]);
    }
    assert_eq!(last.get("w").unwrap(), &[7.0]);
    assert_eq!(first.get("w").unwrap(), &[1.0]);
}

#[test]
fn bad_specs_name_the_key_and_range() {
    let e = Averaging::<f64>::build("ema(decay=1.5)")
        .unwrap_err()
        .to_string();
    assert!(e.contains("decay") && e.contains("[0, 1]"), "{e}");
    let e = Averaging::<f64>::build("swa(every=0)")
        .unwrap_err()
        .to_string();
    assert!(e.contains("every") && e.contains(">= 1"), "{e}");
    let e = Averaging::<f64>::build("swa(decay=0.9)")
        .unwrap_err()
        .to_string();
    assert!(e.contains("decay"), "{e}");
    let e = Averaging::<f64>::build("emma()").unwrap_err().to_string();
    assert!(e.contains("emma") && e.contains("ema"), "{e}");
}

#[test]
fn specs_round_trip_and_are_listed() {
    for s in [
        "swa()",
        "swa(start=10, every=5)",
        "ema(decay=0.99)",
        "ema(decay=0.5, start=3)",
    ] {
        let a = Averaging::<f64>::build(s).unwrap();
        let back = Averaging::<f64>::from_call(&a.spec()).unwrap();
        assert_eq!(a.rule(), back.rule(), "{s}");
    }
    let names: Vec<&str> = catalog().iter().map(|a| a.name).collect();
    assert_eq!(names, ["swa", "ema"]);
    let ema = &catalog()[1];
    assert_eq!(ema.kind, "averaging");
    assert_eq!(ema.params[0].name, "decay");
    assert_eq!(ema.params[0].default, serde_json::json!(0.999));
    assert_eq!(ema.params[0].range, "a number in [0, 1]");
}

#[test]
fn start_and_every_choose_the_steps_averaged() {
    // θ_t = t; swa(start=2, every=3) averages after steps 5, 8, 11: mean 8.
    let mut avg = Averaging::<f64>::build("swa(start=2, every=3)").unwrap();
    let mut updated = vec![];
    for t in 1..=12 {
        if avg.after_step(&[("w", &[t as f64][..], &[][..])]).unwrap() {
            updated.push(t);
        }
    }
    assert_eq!(updated, [5, 8, 11]);
    assert_eq!(avg.get("w").unwrap(), &[8.0]);
    assert_eq!((avg.n_averaged(), avg.steps_seen()), (3, 12));
}

#[test]
fn the_tensor_set_is_fixed_by_the_first_update_and_errors_change_nothing() {
    let mut avg = Averaging::<f64>::build("swa()").unwrap();
    avg.update(&[
        ("a", &[1.0, 2.0][..], &[1, 2][..]),
        ("b", &[3.0][..], &[][..]),
    ])
    .unwrap();
    assert_eq!(avg.shape("a"), Some(&[1usize, 2][..]));
    assert_eq!(avg.shape("b"), Some(&[1usize][..]));
    let before = avg.clone();
    // Any order is fine.
    let mut other = avg.clone();
    other
        .update(&[("b", &[5.0][..], &[][..]), ("a", &[3.0, 4.0][..], &[][..])])
        .unwrap();
    assert_eq!(other.get("a").unwrap(), &[2.0, 3.0]);
    assert_eq!(other.get("b").unwrap(), &[4.0]);
    for bad in [
        vec![("a", &[1.0, 2.0][..], &[][..])],
        vec![("a", &[1.0][..], &[][..]), ("b", &[1.0][..], &[][..])],
        vec![("a", &[1.0, 2.0][..], &[][..]), ("c", &[1.0][..], &[][..])],
        vec![
            ("a", &[1.0, 2.0][..], &[][..]),
            ("a", &[1.0, 2.0][..], &[][..]),
        ],
        vec![("a", &[1.0, 2.0][..], &[3][..]), ("b", &[1.0][..], &[][..])],
    ] {
        assert!(avg.update(&bad).is_err(), "{bad:?}");
        assert!(avg.after_step(&bad).is_err(), "{bad:?}");
        assert_eq!(avg, before);
    }
}

#[test]
fn checkpoint_round_trip_is_bit_exact_and_continues_identically() {
    let mut avg = Averaging::<f32>::build("ema(decay=0.97, every=2)").unwrap();
    let shape = [2usize, 2];
    let mut x = [0.1f32, -0.2, f32::MIN_POSITIVE / 8.0, 3.0];
    for t in 0..7 {
        for v in &mut x {
            *v = *v * 1.1 - 0.01 * t as f32;
        }
        avg.after_step(&[("m", &x[..], &shape[..])]).unwrap();
    }
    let mut c = Checkpoint::new(serde_json::json!({"other": 1}));
    avg.to_checkpoint("average", &mut c).unwrap();
    assert_eq!(avg.checkpoint_tensor_names("average"), ["average/m"]);
    let bytes = c.encode().unwrap();
    let back = Checkpoint::decode(&bytes).unwrap();
    assert_eq!(back.meta["other"], 1);
    let mut loaded = Averaging::<f32>::from_checkpoint("average", &back).unwrap();
    assert_eq!(loaded, avg);
    for a in [&mut avg, &mut loaded] {
        a.after_step(&[("m", &[1.0f32, 2.0, 3.0, 4.0][..], &shape[..])])
            .unwrap();
    }
    let bits = |a: &Averaging<f32>| -> Vec<u32> {
        a.get("m").unwrap().iter().map(|v| v.to_bits()).collect()
    };
    assert_eq!(bits(&avg), bits(&loaded));
    // The wrong dtype is refused; so is a missing tensor.
    let e = Averaging::<f64>::from_checkpoint("average", &back).unwrap_err();
    assert!(e.to_string().contains("f32"), "{e}");
    let mut broken = back.clone();
    broken.tensors.clear();
    assert!(Averaging::<f32>::from_checkpoint("average", &broken).is_err());
    // An empty average round-trips too.
    let empty = Averaging::<f64>::build("swa()").unwrap();
    let mut c = Checkpoint::new(serde_json::Value::Null);
    empty.to_checkpoint("avg", &mut c).unwrap();
    assert_eq!(Averaging::<f64>::from_checkpoint("avg", &c).unwrap(), empty);
}
