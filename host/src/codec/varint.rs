//! LEB128 varints and zigzag-coded signed integers: how the window's
//! blocks (`window/block.rs`) and the store's archived chunks
//! (`codec/chunk.rs`) write small numbers in few bytes. Inlined: the
//! window decodes through `take` on every rule read.

/// Appends `n`, seven bits a byte, low bits first.
#[inline]
pub fn put(bytes: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        bytes.push(n as u8 | 0x80);
        n >>= 7;
    }
    bytes.push(n as u8);
}

/// Appends `n` zigzag-coded, so small negative numbers are short too.
#[inline]
pub fn put_signed(bytes: &mut Vec<u8>, n: i64) {
    put(bytes, zigzag(n));
}

/// Maps 0, -1, 1, -2, … to 0, 1, 2, 3, ….
#[inline]
pub fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline]
pub fn unzigzag(n: u64) -> i64 {
    (n >> 1) as i64 ^ -((n & 1) as i64)
}

/// Reads a varint from bytes this process wrote; at the end of the bytes
/// it stops with what it has.
#[inline]
pub fn take(bytes: &mut &[u8]) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    while let Some((&byte, rest)) = bytes.split_first() {
        *bytes = rest;
        n |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            break;
        }
        shift += 7;
    }
    n
}

/// [`take`] then [`unzigzag`].
#[inline]
pub fn take_signed(bytes: &mut &[u8]) -> i64 {
    unzigzag(take(bytes))
}

/// Reads a varint from bytes that may be damaged (read from disk): `None`
/// when they end inside it or it is longer than a `u64`.
pub fn take_checked(bytes: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        n |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(n);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_come_back_and_damage_is_told() {
        let values = [0, 1, 127, 128, 300, u64::MAX];
        let mut bytes = Vec::new();
        for &v in &values {
            put(&mut bytes, v);
        }
        put_signed(&mut bytes, i64::MIN);
        let mut read = bytes.as_slice();
        for &v in &values {
            assert_eq!(take_checked(&mut read), Some(v));
        }
        assert_eq!(take_signed(&mut read), i64::MIN);
        assert!(read.is_empty());
        assert_eq!(take_checked(&mut &[0x80, 0x80][..]), None);
        assert_eq!(take_checked(&mut &[0xFF; 11][..]), None);
        assert_eq!([-2, -1, 0, 1].map(zigzag), [3, 1, 0, 2]);
    }
}
