//! The vector instruction sets this CPU runs, detected once per process.
//!
//! Every hand-vectorized or `#[target_feature]` path of the crate (the element-wise
//! kernel, the non-finite scan, the norm of clipping, the 8-bit block codecs) picks
//! its variant from [`level`], so they all agree on what the machine offers and the
//! detection runs once.

/// The widest instruction set a variant may use, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// Portable code only.
    Scalar,
    /// AVX2 and FMA (x86-64-v3).
    Avx2,
    /// AVX2, FMA and AVX-512F (512-bit registers, 32 of them, and mask registers).
    Avx512,
}

/// This CPU's [`Level`].
#[inline]
pub(crate) fn level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static LEVEL: OnceLock<Level> = OnceLock::new();
        *LEVEL.get_or_init(|| {
            let avx2 =
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
            if avx2 && std::is_x86_feature_detected!("avx512f") {
                Level::Avx512
            } else if avx2 {
                Level::Avx2
            } else {
                Level::Scalar
            }
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Level::Scalar
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_is_what_the_cpu_reports() {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 =
                std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
            let want = match (avx2, std::is_x86_feature_detected!("avx512f")) {
                (true, true) => Level::Avx512,
                (true, false) => Level::Avx2,
                _ => Level::Scalar,
            };
            assert_eq!(level(), want);
        }
        #[cfg(not(target_arch = "x86_64"))]
        assert_eq!(level(), Level::Scalar);
        assert!(Level::Scalar < Level::Avx2 && Level::Avx2 < Level::Avx512);
    }
}
