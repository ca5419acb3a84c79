//! How a value is stored: as a scaled integer when the metric's precision
//! allows, as a double otherwise.
//!
//! DuckDB compresses integers with bit-packing over small deltas and
//! doubles with ALP, and integers come out several times smaller than the
//! same values as DOUBLE (docs/storage.md). So each series has a `scale`
//! (decimal digits): registered metrics use the registry's precision and are
//! rounded to it; other metrics use scale 0, which stores integral values
//! (counts, bytes, counters) as integers and keeps every other value exact
//! as a double.

use crate::codec::decimal::{MAX_EXACT_INTEGER, divisor};

/// A value as it goes into the `ivalue`/`fvalue` pair of columns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stored {
    /// `value = ivalue / 10^scale`.
    Scaled(i64),
    /// Kept as it came.
    Double(f64),
}

/// Encodes one value for a series with `scale` and whether it is registered
/// (registered metrics are rounded to their precision; others are kept exact).
pub fn encode(value: f64, scale: u8, rounded: bool) -> Stored {
    let scaled = value * divisor(scale);
    if !scaled.is_finite() || scaled.abs() >= MAX_EXACT_INTEGER {
        return Stored::Double(value);
    }
    let integer = scaled.round();
    if rounded || (scale == 0 && integer == value) {
        Stored::Scaled(integer as i64)
    } else {
        Stored::Double(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(stored: Stored, scale: u8) -> f64 {
        match stored {
            Stored::Scaled(i) => i as f64 / divisor(scale),
            Stored::Double(v) => v,
        }
    }

    #[test]
    fn registered_values_are_rounded_to_their_precision() {
        let cpu = 37.456_789_f32 as f64;
        let stored = encode(cpu, 2, true);
        assert_eq!(stored, Stored::Scaled(3746));
        assert_eq!(decode(stored, 2), 37.46);
    }

    #[test]
    fn unregistered_values_round_trip_exactly() {
        for v in [0.1 + 0.2, -3.5, 1e-9, 123_456_789.123, 2.0f64.powi(60)] {
            assert_eq!(decode(encode(v, 0, false), 0), v);
        }
        assert_eq!(encode(42.0, 0, false), Stored::Scaled(42));
        assert_eq!(encode(-7.0, 0, false), Stored::Scaled(-7));
        assert_eq!(encode(0.5, 0, false), Stored::Double(0.5));
    }

    #[test]
    fn huge_values_stay_doubles() {
        assert_eq!(encode(1e300, 2, true), Stored::Double(1e300));
    }
}
