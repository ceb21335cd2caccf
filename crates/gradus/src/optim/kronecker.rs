//! Building blocks of the Kronecker-factored preconditioners (SOAP, Shampoo): one
//! `d × d` matrix per axis of a tensor, statistics gathered along an axis, products
//! along an axis, and the matrix functions (eigenbasis, QR, inverse root) that
//! nalgebra computes.
//!
//! Tensors are flat, row-major slices with a shape. An axis `k` splits a tensor into
//! `outer × d × inner` (`outer` the product of the axes before `k`, `inner` of those
//! after), so element `(o, a, i)` sits at `(o·d + a)·inner + i`. Matrices are `d × d`,
//! row-major.
//!
//! The matrix functions run in `f64` whatever the tensor's type (torch runs them in
//! the tensor's type; for `f32` tensors gradus is therefore slightly more accurate, not
//! bit-exact), except the QR factorization, which SOAP's reference computes in `f32`
//! even for `f64` tensors and gradus does too. Non-finite input (possible only under
//! the `propagate` non-finite policy) gives a NaN matrix, never a panic or a hang.

use nalgebra::{DMatrix, SymmetricEigen, QR};

use crate::float::Float;

/// `(outer, d, inner)` of axis `k` of `shape`.
fn split(shape: &[usize], k: usize) -> (usize, usize, usize) {
    let outer = shape[..k].iter().product();
    let inner = shape[k + 1..].iter().product();
    (outer, shape[k], inner)
}

/// The statistics of axis `k`: `X₍ₖ₎ X₍ₖ₎ᵀ`, the `d × d` sum over every other index of
/// `x[.., a, ..]·x[.., b, ..]` (torch's `tensordot(x, x, dims=[others, others])`;
/// for a vector, the outer product `x xᵀ`).
pub(crate) fn mode_gram<T: Float>(x: &[T], shape: &[usize], k: usize) -> Vec<T> {
    let (outer, d, inner) = split(shape, k);
    let mut out = vec![T::zero(); d * d];
    for a in 0..d {
        for b in a..d {
            let mut s = T::zero();
            for o in 0..outer {
                let base = o * d * inner;
                let (ra, rb) = (base + a * inner, base + b * inner);
                for i in 0..inner {
                    s = x[ra + i].mul_add(x[rb + i], s);
                }
            }
            out[a * d + b] = s;
            out[b * d + a] = s;
        }
    }
    out
}

/// Multiplies axis `k` of `x` by the `d × d` matrix `m`:
/// `y[.., j, ..] = Σₐ m[j, a]·x[.., a, ..]`, or `Σₐ m[a, j]·x[.., a, ..]` when
/// `transposed` (torch's `tensordot(x, m, dims=[[k], [0]])` with the axis kept in
/// place).
pub(crate) fn mode_product<T: Float>(
    x: &[T],
    shape: &[usize],
    k: usize,
    m: &[T],
    transposed: bool,
) -> Vec<T> {
    let (outer, d, inner) = split(shape, k);
    let mut y = vec![T::zero(); x.len()];
    for o in 0..outer {
        let base = o * d * inner;
        for j in 0..d {
            let row = &mut y[base + j * inner..base + (j + 1) * inner];
            for a in 0..d {
                let w = if transposed {
                    m[a * d + j]
                } else {
                    m[j * d + a]
                };
                let src = &x[base + a * inner..base + (a + 1) * inner];
                for (r, s) in row.iter_mut().zip(src) {
                    *r = w.mul_add(*s, *r);
                }
            }
        }
    }
    y
}

/// Reorders axis `k` of `x`: `y[.., j, ..] = x[.., order[j], ..]` (torch's
/// `index_select(k, order)`).
pub(crate) fn select_along<T: Float>(
    x: &[T],
    shape: &[usize],
    k: usize,
    order: &[usize],
) -> Vec<T> {
    let (outer, d, inner) = split(shape, k);
    let mut y = Vec::with_capacity(x.len());
    for o in 0..outer {
        let base = o * d * inner;
        for &a in order {
            y.extend_from_slice(&x[base + a * inner..base + (a + 1) * inner]);
        }
    }
    y
}

/// `a·b` for `d × d` row-major matrices.
pub(crate) fn matmul<T: Float>(a: &[T], b: &[T], d: usize) -> Vec<T> {
    let mut c = vec![T::zero(); d * d];
    for i in 0..d {
        for l in 0..d {
            let w = a[i * d + l];
            for j in 0..d {
                c[i * d + j] = w.mul_add(b[l * d + j], c[i * d + j]);
            }
        }
    }
    c
}

fn to_f64<T: Float>(m: &[T], d: usize) -> DMatrix<f64> {
    DMatrix::from_row_iterator(d, d, m.iter().map(|x| x.f64()))
}

fn to_rows<T: Float>(m: &DMatrix<f64>) -> Vec<T> {
    let (r, c) = m.shape();
    (0..r)
        .flat_map(|i| (0..c).map(move |j| (i, j)))
        .map(|(i, j)| T::of(m[(i, j)]))
        .collect()
}

fn nan_matrix<T: Float>(d: usize) -> Vec<T> {
    vec![T::nan(); d * d]
}

/// Iteration cap of the iterative decompositions (they converge in a few sweeps per
/// eigenvalue; the cap only turns a pathological input into NaN instead of a hang).
fn max_iterations(d: usize) -> usize {
    1000 + 100 * d
}

/// The eigenvectors of the symmetric `d × d` matrix `m` as the columns of a `d × d`
/// matrix, ordered by descending eigenvalue (torch's `eigh`, ascending, then
/// `flip(dims=[1])`). Each column is determined only up to sign, and within a repeated
/// eigenvalue only up to a rotation: LAPACK and nalgebra choose differently.
pub(crate) fn eigenbasis_descending<T: Float>(m: &[T], d: usize) -> Vec<T> {
    if m.iter().any(|x| !x.is_finite()) {
        return nan_matrix(d);
    }
    let Some(eig) = SymmetricEigen::try_new(to_f64(m, d), f64::EPSILON, max_iterations(d)) else {
        return nan_matrix(d);
    };
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&i, &j| eig.eigenvalues[j].total_cmp(&eig.eigenvalues[i]));
    let mut q = Vec::with_capacity(d * d);
    for i in 0..d {
        q.extend(order.iter().map(|&j| T::of(eig.eigenvectors[(i, j)])));
    }
    q
}

/// The orthogonal factor `Q` of the QR factorization of the `d × d` matrix `a`,
/// computed in `f32` as SOAP's reference does (`torch.linalg.qr(a.to(float32))`) and
/// widened back. Column signs follow nalgebra's Householder convention.
pub(crate) fn qr_q_f32<T: Float>(a: &[T], d: usize) -> Vec<T> {
    let a32 = DMatrix::from_row_iterator(d, d, a.iter().map(|x| x.f64() as f32));
    let q = QR::new(a32).q();
    (0..d)
        .flat_map(|i| (0..d).map(move |j| (i, j)))
        .map(|(i, j)| T::of(q[(i, j)] as f64))
        .collect()
}

/// `m^(−1/root)` of a symmetric positive semi-definite `d × d` matrix, as the
/// reference's `compute_power_svd` defines it: `U diag(σ^(−1/root)) Vᵀ` from the SVD.
/// For a symmetric matrix the SVD is the eigendecomposition with `σ = |λ|` and
/// `v = sign(λ)·u`, so this is `Σ sign(λ)·|λ|^(−1/root)·u uᵀ` over the eigenpairs
/// (rounding can make an eigenvalue of a semi-definite matrix slightly negative; the
/// SVD keeps its sign in `v`, and so does this). Computed with nalgebra's symmetric
/// eigensolver, because its SVD loses accuracy on small singular values
/// (dimforge/nalgebra#1172), exactly where an inverse root is most sensitive. A zero
/// eigenvalue gives infinities, as in the reference.
pub(crate) fn inverse_root_svd<T: Float>(m: &[T], d: usize, root: f64) -> Vec<T> {
    if m.iter().any(|x| !x.is_finite()) {
        return nan_matrix(d);
    }
    let Some(eig) = SymmetricEigen::try_new(to_f64(m, d), f64::EPSILON, max_iterations(d)) else {
        return nan_matrix(d);
    };
    let power = -1.0 / root;
    let u = &eig.eigenvectors;
    let mut us = u.clone();
    for (j, &l) in eig.eigenvalues.iter().enumerate() {
        let f = if l < 0.0 {
            -(-l).powf(power)
        } else {
            l.powf(power)
        };
        us.column_mut(j).iter_mut().for_each(|x| *x *= f);
    }
    to_rows(&(us * u.transpose()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    #[test]
    fn mode_gram_and_product_follow_the_axis() {
        // x of shape [2, 3]: axis 0 statistics are x xᵀ, axis 1 are xᵀ x.
        let x = [1.0, 2.0, 3.0, -1.0, 0.5, 2.0];
        assert_eq!(mode_gram(&x, &[2, 3], 0), vec![14.0, 6.0, 6.0, 5.25]);
        assert_eq!(
            mode_gram(&x, &[2, 3], 1),
            vec![2.0, 1.5, 1.0, 1.5, 4.25, 7.0, 1.0, 7.0, 13.0]
        );
        // Multiplying axis 0 by [[0, 1], [1, 0]] swaps the rows; transposed the same.
        let swap = [0.0, 1.0, 1.0, 0.0];
        assert_eq!(
            mode_product(&x, &[2, 3], 0, &swap, false),
            vec![-1.0, 0.5, 2.0, 1.0, 2.0, 3.0]
        );
        // Axis 1 by an upper-triangular m: y[:, j] = Σ m[j, a] x[:, a], and transposed.
        let m = [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 2.0];
        assert_eq!(
            mode_product(&x, &[2, 3], 1, &m, false),
            vec![3.0, 2.0, 6.0, -0.5, 0.5, 4.0]
        );
        assert_eq!(
            mode_product(&x, &[2, 3], 1, &m, true),
            vec![1.0, 3.0, 6.0, -1.0, -0.5, 4.0]
        );
        assert_eq!(
            select_along(&x, &[2, 3], 1, &[2, 0, 1]),
            vec![3.0, 1.0, 2.0, 2.0, -1.0, 0.5]
        );
    }

    #[test]
    fn eigenbasis_is_sorted_descending_and_diagonalizes() {
        let m = [2.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 4.0];
        let q = eigenbasis_descending(&m, 3);
        // qᵀ m q is diagonal with descending entries.
        let qt: Vec<f64> = (0..9).map(|k| q[(k % 3) * 3 + k / 3]).collect();
        let d = matmul(&matmul(&qt, &m, 3), &q, 3);
        for i in 0..3 {
            for j in 0..3 {
                if i != j {
                    assert!(d[i * 3 + j].abs() < 1e-12);
                }
            }
        }
        assert!(d[0] > d[4] && d[4] > d[8]);
        assert!((d[0] - (3.0 + 3f64.sqrt())).abs() < 1e-12);
        assert!(eigenbasis_descending(&[f64::NAN; 4], 2)[0].is_nan());
    }

    #[test]
    fn qr_is_orthogonal_and_spans_the_columns() {
        let a = [4.0, 1.0, 2.0, 3.0];
        let q = qr_q_f32(&a, 2);
        let qt = [q[0], q[2], q[1], q[3]];
        assert!(close(&matmul(&qt, &q, 2), &[1.0, 0.0, 0.0, 1.0], 1e-6));
        // The first column is the first column of a, normalized (up to sign).
        let n = 20f64.sqrt();
        assert!((q[0].abs() - 4.0 / n).abs() < 1e-6 && (q[2].abs() - 2.0 / n).abs() < 1e-6);
    }

    #[test]
    fn inverse_root_inverts_a_power() {
        // m = diag(16, 81) rotated: m^(-1/4) = rotated diag(1/2, 1/3).
        let (c, s) = (0.6, 0.8);
        let r = [c, -s, s, c];
        let rt = [c, s, -s, c];
        let m = matmul(&matmul(&r, &[16.0, 0.0, 0.0, 81.0], 2), &rt, 2);
        let want = matmul(&matmul(&r, &[0.5, 0.0, 0.0, 1.0 / 3.0], 2), &rt, 2);
        assert!(close(&inverse_root_svd(&m, 2, 4.0), &want, 1e-14));
        assert!(inverse_root_svd(&[f64::INFINITY, 0.0, 0.0, 1.0], 2, 2.0)[0].is_nan());
    }
}
