//! A seeded generator of adversarial series for the pandas oracle: NaN runs, `±inf`, `-0.0`,
//! constant runs, magnitudes from 1e-300 to 1e300, one-decimal values with many repeats, and
//! timestamps on hour and rounding edges, negative and near pandas' nanosecond limits.

/// One generated case: a window length and a series.
#[derive(Debug, Clone)]
pub struct Case {
    pub window: usize,
    pub timestamps: Vec<f64>,
    pub values: Vec<f64>,
}

/// SplitMix64: tiny, seedable and the same on every platform, so a failing case is reproducible
/// from its index alone.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// How a series' values are drawn.
#[derive(Debug, Clone, Copy)]
enum Values {
    /// CPU-like percentages with one decimal, from a small set so that values repeat.
    OneDecimal,
    /// Ordinary doubles around a random scale.
    Gaussianish,
    /// Any magnitude from 1e-300 to 1e300, either sign.
    Magnitudes,
    /// Huge and tiny values side by side (1e16 and 1), where compensation matters.
    Cancellation,
    /// Mostly special values: NaN, ±inf, ±0.
    Specials,
    /// Arbitrary bit patterns (finite or not).
    RawBits,
}

/// How a series' timestamps are drawn.
#[derive(Debug, Clone, Copy)]
enum Times {
    /// Integer seconds at a regular step from a recent epoch.
    Integer,
    /// Fractional seconds.
    Fractional,
    /// Right next to hour boundaries, in the 1e-9 rounding zone of pandas' conversion.
    HourEdges,
    /// Before 1970.
    Negative,
    /// Anywhere pandas can represent, up to its nanosecond limits.
    Extreme,
}

/// The `index`-th case of the stream seeded with `seed`.
pub fn case(seed: u64, index: u64) -> Case {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
    let len = if rng.chance(0.2) { rng.range(1, 12) } else { rng.range(1, 300) } as usize;
    let window = if rng.chance(0.7) { 5 } else { rng.range(1, 12) as usize };
    let values_kind = rng.pick(&[
        Values::OneDecimal,
        Values::OneDecimal,
        Values::OneDecimal,
        Values::Gaussianish,
        Values::Magnitudes,
        Values::Cancellation,
        Values::Specials,
        Values::RawBits,
    ]);
    let times_kind =
        rng.pick(&[Times::Integer, Times::Fractional, Times::HourEdges, Times::Negative, Times::Extreme]);
    let values = values(&mut rng, values_kind, len);
    let timestamps = timestamps(&mut rng, times_kind, len);
    Case { window, timestamps, values }
}

fn values(rng: &mut Rng, kind: Values, len: usize) -> Vec<f64> {
    // Per-series rates of NaN runs, specials and constant runs, so some series are clean.
    let nan_run_rate = rng.pick(&[0.0, 0.0, 0.02, 0.1, 0.3]);
    let special_rate = rng.pick(&[0.0, 0.0, 0.01, 0.05]);
    let repeat_rate = rng.pick(&[0.0, 0.1, 0.3, 0.6]);
    let scale = 10f64.powi(rng.range(-6, 6) as i32);
    let distinct = rng.range(1, 40);
    let mut out: Vec<f64> = Vec::with_capacity(len);
    let mut nan_left = 0;
    while out.len() < len {
        if nan_left > 0 {
            nan_left -= 1;
            out.push(f64::NAN);
            continue;
        }
        if rng.chance(nan_run_rate) {
            nan_left = rng.range(1, 8);
            continue;
        }
        if let Some(&last) = out.last()
            && rng.chance(repeat_rate)
        {
            out.push(last);
            continue;
        }
        if rng.chance(special_rate) {
            out.push(special(rng));
            continue;
        }
        let v = match kind {
            Values::OneDecimal => rng.range(0, distinct * 7) as f64 / 10.0,
            Values::Gaussianish => (rng.unit() + rng.unit() + rng.unit() - 1.5) * scale,
            Values::Magnitudes => {
                let sign = if rng.chance(0.5) { -1.0 } else { 1.0 };
                sign * (1.0 + rng.unit()) * 10f64.powi(rng.range(-300, 300) as i32)
            }
            Values::Cancellation => {
                let big = rng.pick(&[1e16, -1e16, 1e15, 3e17, 1e300]);
                if rng.chance(0.5) { big } else { rng.range(-3, 3) as f64 * rng.pick(&[1.0, 0.1, 1e-300]) }
            }
            Values::Specials => special(rng),
            Values::RawBits => f64::from_bits(rng.next_u64()),
        };
        out.push(v);
    }
    out
}

fn special(rng: &mut Rng) -> f64 {
    rng.pick(&[f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1.0, -1.0, f64::MIN_POSITIVE, f64::MAX])
}

/// Just inside pandas' limit: nanoseconds since the epoch must fit an `i64` (2^63 ns is
/// 9223372036.854775807 s).
const LIMIT_SECONDS: f64 = 9_223_372_036.85;

fn timestamps(rng: &mut Rng, kind: Times, len: usize) -> Vec<f64> {
    let start = rng.range(0, 1_800_000_000) as f64;
    let step: f64 = rng.pick(&[1.0, 60.0, 300.0, 3600.0, 0.25, 7.5]);
    (0..len)
        .map(|i| match kind {
            Times::Integer => start + step.ceil() * i as f64,
            Times::Fractional => start + step * i as f64 + rng.unit(),
            Times::HourEdges => hour_edge(rng),
            Times::Negative => -(rng.unit() * 3e9) - rng.pick(&[0.0, 0.5, 1e-10, 0.9999999999]),
            Times::Extreme => {
                let t = rng.unit() * LIMIT_SECONDS;
                if rng.chance(0.5) { -t } else { t }
            }
        })
        .collect()
}

/// A time within a nanosecond or so of an hour boundary, either sign, where truncation versus
/// rounding of the fraction decides the hour.
fn hour_edge(rng: &mut Rng) -> f64 {
    if rng.chance(0.1) {
        return 3599.9999999999;
    }
    // Near zero the spacing of doubles is far below a nanosecond; far out it is far above.
    let hours = if rng.chance(0.6) { rng.range(-48, 48) } else { rng.range(-500_000, 500_000) } as f64;
    let boundary = hours * 3600.0;
    if rng.chance(0.5) {
        let offset = rng.pick(&[-1e-10, -4e-10, -5e-10, -6e-10, -1e-9, -1.5e-9, 0.0, 1e-10, 5e-10, 1e-9]);
        boundary + offset
    } else {
        // A few representable steps either side of the boundary.
        let steps = rng.range(-3, 3);
        match boundary.to_bits() {
            0 => f64::from_bits(steps.unsigned_abs()),
            bits => f64::from_bits(bits.wrapping_add_signed(steps)),
        }
    }
}
