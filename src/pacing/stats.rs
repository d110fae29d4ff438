//! Small numerical tools of the pacing model: the log-normal distribution (answer delays and
//! talk times are right-skewed and positive, which a log-normal fits with two numbers) and the
//! complementary error function it needs, since the standard library has none.

use std::f64::consts::SQRT_2;

/// A log-normal distribution: `ln X ~ Normal(mu, sigma²)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct LogNormal {
    /// Mean of `ln X`.
    pub mu: f64,
    /// Standard deviation of `ln X` (> 0).
    pub sigma: f64,
}

impl LogNormal {
    /// The log-normal with this mean (in the original scale) and log-space spread; how priors and
    /// simulator settings are written, since people think in mean seconds.
    pub fn with_mean(mean: f64, sigma: f64) -> LogNormal {
        let sigma = sigma.max(1e-3);
        LogNormal {
            mu: mean.max(1e-6).ln() - sigma * sigma / 2.0,
            sigma,
        }
    }

    /// The mean `exp(mu + sigma²/2)`.
    pub fn mean(&self) -> f64 {
        (self.mu + self.sigma * self.sigma / 2.0).exp()
    }

    /// `P(X <= x)`.
    pub fn cdf(&self, x: f64) -> f64 {
        if x <= 0.0 {
            return 0.0;
        }
        0.5 * erfc(-(x.ln() - self.mu) / (self.sigma * SQRT_2))
    }

    /// `P(X <= at + within | X > at)`: the chance that something already running for `at`
    /// seconds ends within the next `within` seconds (the residual-life distribution).
    pub fn residual_cdf(&self, at: f64, within: f64) -> f64 {
        if within <= 0.0 {
            return 0.0;
        }
        let alive = 1.0 - self.cdf(at);
        if alive < 1e-9 {
            return 1.0;
        }
        ((self.cdf(at + within) - self.cdf(at)) / alive).clamp(0.0, 1.0)
    }

    /// A draw from a standard normal variate `z`: `exp(mu + sigma z)`.
    pub fn from_standard_normal(&self, z: f64) -> f64 {
        (self.mu + self.sigma * z).exp()
    }
}

/// The complementary error function, by the Chebyshev fit of Numerical Recipes (`erfcc`),
/// fractional error below 1.2e-7 everywhere: ample for probabilities compared with a 3 % cap.
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * (-z * z + poly).exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The distribution of a sum of independent Bernoulli variables (a Poisson-binomial), by the
/// usual O(n²) convolution; index `k` holds `P(sum = k)`.
pub fn poisson_binomial(probabilities: impl IntoIterator<Item = f64>) -> Vec<f64> {
    let mut pmf = vec![1.0];
    for p in probabilities {
        let p = p.clamp(0.0, 1.0);
        pmf.push(0.0);
        for k in (1..pmf.len()).rev() {
            pmf[k] = pmf[k] * (1.0 - p) + pmf[k - 1] * p;
        }
        pmf[0] *= 1.0 - p;
    }
    pmf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erfc_matches_known_values() {
        assert!((erfc(0.0) - 1.0).abs() < 1e-7);
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-6);
        assert!((erfc(-1.0) - 1.842_700_793).abs() < 1e-6);
    }

    #[test]
    fn log_normal_mean_and_median() {
        let d = LogNormal::with_mean(120.0, 0.6);
        assert!((d.mean() - 120.0).abs() < 1e-9);
        assert!((d.cdf(d.mu.exp()) - 0.5).abs() < 1e-6);
        assert!(d.residual_cdf(50.0, 1e6) > 0.999);
    }

    #[test]
    fn poisson_binomial_sums_to_one() {
        let pmf = poisson_binomial([0.5, 0.5, 1.0]);
        assert_eq!(pmf.len(), 4);
        assert!((pmf.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((pmf[2] - 0.5).abs() < 1e-12 && pmf[0] == 0.0);
    }
}
