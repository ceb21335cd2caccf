"""Bad input raises a Python exception naming the culprit; nothing crashes."""

import numpy as np
import pytest

import gradus


def test_unknown_keyword_names_the_key_and_the_valid_ones():
    with pytest.raises(TypeError, match="lrr"):
        gradus.Adam(lrr=0.1)
    with pytest.raises(ValueError, match="unknown argument 'lrr'.*lr"):
        gradus.build("adam(lrr=0.1)")


def test_out_of_range_hyperparameter_names_it_and_its_range():
    with pytest.raises(ValueError, match=r"betas\[0\]"):
        gradus.Adam(betas=(1.5, 0.9))
    with pytest.raises(ValueError, match="lr"):
        gradus.SGD(lr=-1.0)
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        gradus.build("adamm")


def test_wrong_dtype_is_a_type_error_naming_the_tensor():
    opt = gradus.Adam()
    w = np.zeros(3, dtype=np.int64)
    with pytest.raises(TypeError, match="tensor 'w'.*int64"):
        opt.step({"w": (w, w)})
    p = np.zeros(3)
    with pytest.raises(TypeError, match="tensor 'p': gradient dtype float32"):
        opt.step({"p": (p, np.zeros(3, dtype=np.float32))})
    with pytest.raises(TypeError, match="numpy.ndarray, got list"):
        opt.step({"p": ([0.0], p)})


def test_mixing_dtypes_across_steps_is_refused():
    opt = gradus.Adam()
    a = np.zeros(2)
    opt.step({"a": (a, a + 1)})
    b = np.zeros(2, dtype=np.float32)
    with pytest.raises(TypeError, match="tensor 'b' is float32 but this optimizer steps float64"):
        opt.step({"b": (b, b + 1)})


def test_read_only_non_contiguous_and_shape_mismatch():
    opt = gradus.SGD(lr=0.1)
    ro = np.zeros(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="tensor 'r': the parameter is read-only"):
        opt.step({"r": (ro, np.ones(3))})
    wide = np.zeros((3, 4))
    with pytest.raises(ValueError, match="tensor 'c'.*not C-contiguous"):
        opt.step({"c": (wide[:, ::2], np.ones((3, 2)))})
    with pytest.raises(ValueError, match=r"tensor 's': parameter shape \[3\] differs from gradient shape \[4\]"):
        opt.step({"s": (np.zeros(3), np.zeros(4))})
    same = np.zeros(3)
    with pytest.raises(ValueError, match="shares memory"):
        opt.step({"x": (same, same)})
    assert opt.tensor_names() == []  # nothing was stepped


def test_non_finite_gradient_names_tensor_index_and_step():
    opt = gradus.Adam()
    x = np.zeros(4)
    with pytest.raises(ValueError, match="non-finite gradient in tensor 'x' at index 2 on step 1"):
        opt.step({"x": (x, np.array([0.0, 1.0, np.nan, 0.0]))})
    np.testing.assert_array_equal(x, 0.0)
    skip = gradus.Adam(nonfinite="skip")
    assert skip.step({"x": (x, np.array([np.inf, 0, 0, 0]))}) is False
    assert skip.skipped_steps == 1


def test_state_that_does_not_fit_is_refused():
    opt = gradus.Adam()
    x = np.zeros(3)
    opt.step({"x": (x, np.ones(3))})
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="state is for 'adam' but the optimizer is 'sgd'"):
        gradus.SGD().load_state_dict(sd)
    with pytest.raises(ValueError, match="tensor 'x' has 4 elements but its optimizer state has 3"):
        opt.step({"x": (np.zeros(4), np.ones(4))})
    with pytest.raises(TypeError, match="exp_avg"):
        bad = dict(sd, state={"x": dict(sd["state"]["x"], exp_avg=[1, 2, 3])})
        gradus.Adam().load_state_dict(bad)


def test_bad_problem_and_run_arguments():
    with pytest.raises(ValueError, match="beale is 2-D"):
        gradus.problems.beale(dim=3)
    with pytest.raises(ValueError, match="unknown problem"):
        gradus.problems.Problem("nope")
    with pytest.raises(ValueError, match="the start point has 3 values but the problem has 2 parameters"):
        gradus.run(gradus.problems.beale(), "adam", 1, start=np.zeros(3))
    with pytest.raises(ValueError, match="max_norm"):
        gradus.clip_grad_norm([np.ones(2)], -1.0)


def test_bf16_state_steps_but_its_state_dict_is_refused_by_name():
    opt = gradus.build("adam(lr=0.1, state_dtype=bf16)")
    x = np.array([1.0, -2.0], dtype=np.float32)
    g = np.array([0.5, 0.25], dtype=np.float32)
    assert opt.step({"w": (x, g)}) is True
    assert np.all(x != np.array([1.0, -2.0], dtype=np.float32))
    with pytest.raises(ValueError, match=r"tensor 'w' in bfloat16 \(state_dtype=bf16\)"):
        opt.state_dict()


def test_q8_state_steps_like_the_rust_library_but_its_state_dict_is_refused_by_name():
    x = np.linspace(-1.0, 1.0, 300, dtype=np.float32)
    g = np.cos(np.arange(300, dtype=np.float32))
    full = x.copy()
    opt = gradus.build("adam(lr=0.01, state_dtype=q8)")
    ref = gradus.build("adam(lr=0.01)")
    for _ in range(3):
        assert opt.step({"w": (x, g)}) is True
        ref.step({"w": (full, g)})
    # 8-bit moments: close to, not equal to, the f32-state run (Adam moves each
    # parameter by about lr = 0.01 per step).
    assert np.median(np.abs(x - full)) < 1e-3
    assert np.any(x != full)
    with pytest.raises(ValueError, match=r"tensor 'w' in 8 bits \(state_dtype=q8\)"):
        opt.state_dict()
