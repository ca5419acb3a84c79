//! An adaptive binary range coder and the integer model the archived
//! chunks (`chunk.rs`) are coded with.
//!
//! DuckDB's own codecs for numbers (bit-packing with one width per group
//! of 2,048 values, ALP for doubles) spend the width of a group's largest
//! delta on every value; an entropy coder spends about what each value
//! carries. The coder is the binary range coder LZMA made common:
//! probabilities that adapt by 1/32 of the error after every bit, a 32-bit
//! range renormalised a byte at a time. docs/storage.md compares it with
//! DuckDB's codecs and zstd on the storage benchmark's day.

/// Probabilities are of a 0 bit, out of `1 << PROB_BITS`. LZMA uses 11
/// bits; with 15 a probability can come closer to 1, so a near-constant
/// series' unchanged values cost less. `(range >> 15) * p` still fits in
/// 32 bits.
const PROB_BITS: u32 = 15;
const PROB_ONE: u16 = 1 << PROB_BITS;
/// A probability before any bit has been seen.
pub const PROB_START: u16 = PROB_ONE / 2;
/// How fast a probability follows the bits: 1/32 of the error.
const ADAPT_SHIFT: u32 = 5;
/// The range is renormalised when it falls below this.
const RANGE_MIN: u32 = 1 << 24;

/// Writes bits into a byte vector.
pub struct Encoder {
    low: u64,
    range: u32,
    /// The last byte not yet written: a carry may still change it.
    pending: u8,
    /// `pending` plus the 0xFF bytes behind it that a carry would also change.
    pending_len: u64,
    out: Vec<u8>,
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    pub fn new() -> Self {
        Self {
            low: 0,
            range: u32::MAX,
            pending: 0,
            pending_len: 1,
            out: Vec::new(),
        }
    }

    /// Codes `bit` with the adaptive probability `p` and updates `p`.
    pub fn bit(&mut self, p: &mut u16, bit: bool) {
        let bound = (self.range >> PROB_BITS) * u32::from(*p);
        if bit {
            self.low += u64::from(bound);
            self.range -= bound;
            *p -= *p >> ADAPT_SHIFT;
        } else {
            self.range = bound;
            *p += (PROB_ONE - *p) >> ADAPT_SHIFT;
        }
        self.normalise();
    }

    /// Codes the low `n` bits of `value`, most significant first, each
    /// with probability one half (bits no model can predict).
    pub fn direct(&mut self, value: u64, n: u32) {
        for i in (0..n).rev() {
            self.range >>= 1;
            if (value >> i) & 1 == 1 {
                self.low += u64::from(self.range);
            }
            self.normalise();
        }
    }

    /// The coded bytes.
    pub fn finish(mut self) -> Vec<u8> {
        for _ in 0..5 {
            self.shift_low();
        }
        self.out
    }

    fn normalise(&mut self) {
        while self.range < RANGE_MIN {
            self.range <<= 8;
            self.shift_low();
        }
    }

    /// Moves the top byte of `low` out, resolving a carry into the bytes
    /// still pending.
    fn shift_low(&mut self) {
        if self.low < 0xFF00_0000 || self.low > u64::from(u32::MAX) {
            let carry = (self.low >> 32) as u8;
            let mut byte = self.pending;
            loop {
                self.out.push(byte.wrapping_add(carry));
                byte = 0xFF;
                self.pending_len -= 1;
                if self.pending_len == 0 {
                    break;
                }
            }
            self.pending = (self.low >> 24) as u8;
        }
        self.pending_len += 1;
        self.low = (self.low & 0x00FF_FFFF) << 8;
    }
}

/// Reads bits written by [`Encoder`].
pub struct Decoder<'a> {
    code: u32,
    range: u32,
    input: &'a [u8],
    at: usize,
}

/// The coded bytes ran out long before the values did: the input is cut
/// short or is not a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

impl<'a> Decoder<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        let mut decoder = Self {
            code: 0,
            range: u32::MAX,
            input,
            at: 0,
        };
        // The encoder's first byte is always 0 (no carry can reach it).
        for _ in 0..5 {
            decoder.code = (decoder.code << 8) | u32::from(decoder.next_byte());
        }
        decoder
    }

    pub fn bit(&mut self, p: &mut u16) -> bool {
        let bound = (self.range >> PROB_BITS) * u32::from(*p);
        let bit = if self.code < bound {
            self.range = bound;
            *p += (PROB_ONE - *p) >> ADAPT_SHIFT;
            false
        } else {
            self.code -= bound;
            self.range -= bound;
            *p -= *p >> ADAPT_SHIFT;
            true
        };
        self.normalise();
        bit
    }

    pub fn direct(&mut self, n: u32) -> u64 {
        let mut value = 0;
        for _ in 0..n {
            self.range >>= 1;
            let bit = self.code >= self.range;
            if bit {
                self.code -= self.range;
            }
            value = (value << 1) | u64::from(bit);
            self.normalise();
        }
        value
    }

    /// Fails when decoding has read more than the flush bytes past the end.
    pub fn check(&self) -> Result<(), Truncated> {
        if self.at > self.input.len() + 4 {
            Err(Truncated)
        } else {
            Ok(())
        }
    }

    fn normalise(&mut self) {
        while self.range < RANGE_MIN {
            self.range <<= 8;
            self.code = (self.code << 8) | u32::from(self.next_byte());
        }
    }

    /// Past the end reads zeros; [`Decoder::check`] tells.
    fn next_byte(&mut self) -> u8 {
        let byte = self.input.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        byte
    }
}

/// Bits of the bit-length tree: lengths 0..=64 need 7.
const LENGTH_BITS: u32 = 7;
/// Bits under the leading one that are modelled (per length); the rest
/// are nearly uniform and coded direct.
const MODELLED_MANTISSA_BITS: usize = 3;

/// Codes unsigned integers whose size follows their neighbours' (deltas of
/// a gauge, increments of a counter): each value as its bit length, coded
/// in the context of the previous value's length so the model follows the
/// series' current volatility, then the top bits under the leading one
/// (modelled per length) and the rest direct.
pub struct IntModel {
    /// `lengths[previous length]` is a bit tree over the next length.
    lengths: Vec<[u16; 1 << LENGTH_BITS]>,
    /// `mantissas[length]` is a bit tree over the modelled bits.
    mantissas: Vec<[u16; 1 << MODELLED_MANTISSA_BITS]>,
    previous: usize,
}

/// A length above 64 was decoded: the input is not a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadLength;

impl Default for IntModel {
    fn default() -> Self {
        Self::new()
    }
}

impl IntModel {
    pub fn new() -> Self {
        Self {
            lengths: vec![[PROB_START; 1 << LENGTH_BITS]; 65],
            mantissas: vec![[PROB_START; 1 << MODELLED_MANTISSA_BITS]; 65],
            previous: 0,
        }
    }

    pub fn encode(&mut self, e: &mut Encoder, value: u64) {
        let length = (u64::BITS - value.leading_zeros()) as usize;
        let tree = &mut self.lengths[self.previous];
        let mut node = 1;
        for i in (0..LENGTH_BITS).rev() {
            let bit = (length >> i) & 1 == 1;
            e.bit(&mut tree[node], bit);
            node = node * 2 + usize::from(bit);
        }
        if length >= 2 {
            let below = length - 1;
            let modelled = below.min(MODELLED_MANTISSA_BITS);
            let tree = &mut self.mantissas[length];
            let mut node = 1;
            for i in (0..modelled).rev() {
                let bit = (value >> (below - modelled + i)) & 1 == 1;
                e.bit(&mut tree[node], bit);
                node = node * 2 + usize::from(bit);
            }
            let rest = (below - modelled) as u32;
            e.direct(value & ((1u64 << rest) - 1), rest);
        }
        self.previous = length;
    }

    pub fn decode(&mut self, d: &mut Decoder<'_>) -> Result<u64, BadLength> {
        let tree = &mut self.lengths[self.previous];
        let mut node = 1;
        for _ in 0..LENGTH_BITS {
            node = node * 2 + usize::from(d.bit(&mut tree[node]));
        }
        let length = node - (1 << LENGTH_BITS);
        if length > 64 {
            return Err(BadLength);
        }
        let value = match length {
            0 => 0,
            1 => 1,
            _ => {
                let below = length - 1;
                let modelled = below.min(MODELLED_MANTISSA_BITS);
                let tree = &mut self.mantissas[length];
                let mut node = 1;
                for _ in 0..modelled {
                    node = node * 2 + usize::from(d.bit(&mut tree[node]));
                }
                let top = (1u64 << modelled) | (node as u64 - (1 << modelled));
                let rest = (below - modelled) as u32;
                (top << rest) | d.direct(rest)
            }
        };
        self.previous = length;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_of_every_length_come_back() {
        let values: Vec<u64> = (0..64)
            .flat_map(|shift| [0, 1, 3, 5].map(|low| (1u64 << shift) | low))
            .chain([0, 0, 0, u64::MAX, u64::MAX - 1, 2, 7, 0])
            .collect();
        let mut encoder = Encoder::new();
        let mut model = IntModel::new();
        for &v in &values {
            model.encode(&mut encoder, v);
        }
        let bytes = encoder.finish();
        let mut decoder = Decoder::new(&bytes);
        let mut model = IntModel::new();
        for &v in &values {
            assert_eq!(model.decode(&mut decoder), Ok(v));
        }
        assert_eq!(decoder.check(), Ok(()));
    }

    #[test]
    fn a_carry_through_a_run_of_ff_bytes_is_resolved() {
        // Highly probable ones after a long run of zeros push `low` up to
        // carries; bits and direct bits mixed exercise both paths.
        let mut encoder = Encoder::new();
        let mut p = PROB_START;
        let bits: Vec<bool> = (0..20_000).map(|i| i % 97 != 0 || i % 3 == 0).collect();
        for (i, &b) in bits.iter().enumerate() {
            encoder.bit(&mut p, b);
            encoder.direct(i as u64, 3);
        }
        let bytes = encoder.finish();
        let mut decoder = Decoder::new(&bytes);
        let mut p = PROB_START;
        for (i, &b) in bits.iter().enumerate() {
            assert_eq!(decoder.bit(&mut p), b, "bit {i}");
            assert_eq!(decoder.direct(3), i as u64 & 7);
        }
    }

    #[test]
    fn predictable_values_cost_a_fraction_of_a_bit() {
        let mut encoder = Encoder::new();
        let mut model = IntModel::new();
        for _ in 0..10_000 {
            model.encode(&mut encoder, 0);
        }
        // 10,000 zeros: seven bits of length each, each about 0.0015 bits
        // once its probability has adapted (it stops at 1 - 2^-10).
        let bytes = encoder.finish().len();
        assert!(bytes < 60, "{bytes} bytes");
    }

    #[test]
    fn reading_far_past_the_end_is_reported() {
        let mut decoder = Decoder::new(&[0, 1]);
        let mut model = IntModel::new();
        for _ in 0..1000 {
            if model.decode(&mut decoder).is_err() {
                return;
            }
        }
        assert_eq!(decoder.check(), Err(Truncated));
    }
}
