//! Decimals held as whole numbers: a value with `d` decimal places as its
//! count of `10^-d`. The store keeps registered metrics that way
//! (`store/encode.rs`), archived rollups are coded that way
//! (`codec/chunk.rs`), and the window's blocks compress that way
//! (`window/block.rs`); all three turn the count back into the value the
//! same way, so the round trip is exact.

/// Largest magnitude held as a count: beyond 2^53 an `f64` no longer holds
/// every integer, so the round trip would not be exact.
pub const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// `10^decimals` as a double: the divisor that turns a count back into the
/// value. Division (not multiplication by `10^-decimals`) gives the double
/// nearest the decimal, the same one parsing its text gives.
pub fn divisor(decimals: u8) -> f64 {
    10f64.powi(i32::from(decimals))
}

/// `value` as a whole number of `10^-decimals`, if dividing it by
/// [`divisor`] gives `value` back bit for bit (so not NaN, infinities or
/// -0.0).
pub fn exact_count(value: f64, decimals: u8) -> Option<i64> {
    let scale = divisor(decimals);
    let count = (value * scale).round();
    // NaN compares false, so it is refused here too.
    if count.is_nan() || count.abs() >= MAX_EXACT_INTEGER {
        return None;
    }
    let count = count as i64;
    ((count as f64 / scale).to_bits() == value.to_bits()).then_some(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_give_their_value_back_or_are_refused() {
        assert_eq!(exact_count(12.34, 2), Some(1234));
        assert_eq!(exact_count(0.1 + 0.2, 2), None);
        assert_eq!(exact_count(-0.0, 0), None);
        assert_eq!(exact_count(f64::NAN, 0), None);
        assert_eq!(exact_count(1e300, 0), None);
        assert_eq!(1234.0 / divisor(2), 12.34);
    }
}
