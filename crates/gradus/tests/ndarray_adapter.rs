//! The ndarray adapter steps arrays exactly as the slice API steps their data.
#![cfg(feature = "ndarray")]

use gradus::optim::{self, Param};
use gradus::Float;
use ndarray::{s, Array, Array1, Array2, ShapeBuilder};

/// A deterministic, non-trivial gradient for step `k`.
fn grad_of<T: Float>(w: &[T], k: usize) -> Vec<T> {
    w.iter()
        .enumerate()
        .map(|(i, &x)| x * T::of(2.0) + T::of(((i * 7 + k * 3) % 11) as f64 / 10.0 - 0.5))
        .collect()
}

fn check<T: Float>(spec: &str) {
    let init: Vec<T> = (0..12).map(|i| T::of((i as f64 - 5.5) / 3.0)).collect();
    let binit: Vec<T> = (0..3).map(|i| T::of(0.1 * i as f64)).collect();
    // ndarray path: a 4x3 weight and a bias.
    let mut w = Array2::from_shape_vec((4, 3), init.clone()).unwrap();
    let mut b = Array1::from_vec(binit.clone());
    let mut opt = optim::build::<T>(spec).unwrap();
    // slice path
    let mut ws = init;
    let mut bs = binit;
    let mut opt2 = optim::build::<T>(spec).unwrap();
    for k in 0..25 {
        let gw = Array2::from_shape_vec((4, 3), grad_of(w.as_slice().unwrap(), k)).unwrap();
        let gb = Array1::from_vec(grad_of(b.as_slice().unwrap(), k + 1));
        opt.step(&mut [
            Param::from_ndarray("w", w.view_mut(), gw.view()).unwrap(),
            Param::from_ndarray("b", b.view_mut(), gb.view()).unwrap(),
        ])
        .unwrap();
        let gws = grad_of(&ws, k);
        let gbs = grad_of(&bs, k + 1);
        opt2.step(&mut [
            Param::new("w", &mut ws, &gws),
            Param::new("b", &mut bs, &gbs),
        ])
        .unwrap();
        let bits = |v: &[T]| v.iter().map(|x| x.f64().to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(w.as_slice().unwrap()), bits(&ws), "{spec} step {k}");
        assert_eq!(bits(b.as_slice().unwrap()), bits(&bs), "{spec} step {k}");
    }
    assert_eq!(opt.state(), opt2.state());
}

#[test]
fn array2_matches_slice_path_bit_for_bit() {
    for spec in [
        "sgd(lr=0.05, momentum=0.9, nesterov=true, weight_decay=0.01)",
        "adam(lr=0.01, amsgrad=true)",
        "adamw(lr=0.01, weight_decay=0.1)",
    ] {
        check::<f64>(spec);
        check::<f32>(spec);
    }
}

#[test]
fn three_dimensional_arrays_step_too() {
    let mut w = Array::from_shape_fn((2, 3, 4), |(i, j, k)| (i + j * k) as f64);
    let g = Array::from_elem((2, 3, 4), 1.0);
    let before = w.clone();
    let mut opt = optim::build::<f64>("sgd(lr=0.5)").unwrap();
    opt.step(&mut [Param::from_ndarray("w", w.view_mut(), g.view()).unwrap()])
        .unwrap();
    assert_eq!(w, before - 0.5);
}

#[test]
fn non_standard_layouts_and_shape_mismatch_are_errors() {
    let mut w = Array2::<f64>::zeros((3, 2));
    let g = Array2::<f64>::ones((2, 3));
    // Transposed gradient: same shape as w, but column-major.
    let gt = g.t();
    let e = Param::from_ndarray("w", w.view_mut(), gt).unwrap_err();
    assert!(
        e.to_string().contains("gradient array is not in standard"),
        "{e}"
    );
    // Shape mismatch.
    let e = Param::from_ndarray("w", w.view_mut(), g.view()).unwrap_err();
    assert!(e.to_string().contains("shape"), "{e}");
    // Column-major parameter.
    let mut f = Array2::<f64>::zeros((3, 2).f());
    let g32 = Array2::<f64>::ones((3, 2));
    let e = Param::from_ndarray("f", f.view_mut(), g32.view()).unwrap_err();
    assert!(
        e.to_string().contains("parameter array is not in standard"),
        "{e}"
    );
    // Strided slice of a parameter.
    let mut big = Array2::<f64>::zeros((3, 4));
    let g2 = Array2::<f64>::ones((3, 2));
    let e = Param::from_ndarray("s", big.slice_mut(s![.., ..;2]), g2.view()).unwrap_err();
    assert!(e.to_string().contains("not in standard"), "{e}");
    // A contiguous row slice is fine (and a standard-layout copy of a gradient too).
    let mut rows = Array2::<f64>::zeros((4, 3));
    let g3 = Array2::<f64>::ones((3, 2));
    let g3t = g3.t().as_standard_layout().into_owned();
    let mut opt = optim::build::<f64>("sgd(lr=1)").unwrap();
    opt.step(&mut [Param::from_ndarray("r", rows.slice_mut(s![1..3, ..]), g3t.view()).unwrap()])
        .unwrap();
    assert_eq!(rows.row(0).sum(), 0.0);
    assert_eq!(rows.row(1).sum(), -3.0);
}
