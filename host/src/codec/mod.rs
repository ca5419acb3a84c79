//! Pure encodings, with no I/O and no engine: varints, decimals held as
//! counts, the archived chunk format and the range coder under it. The
//! store and the window both code through these, so neither owns them.

pub mod chunk;
pub mod decimal;
pub mod rangecoder;
pub mod varint;
