//! Decompression of pushed bodies: gzip (OTLP/HTTP's `Content-Encoding:
//! gzip`) and snappy's block format (every remote-write body). Both stop at
//! a caller-given limit, so a small compressed body cannot expand into
//! gigabytes of memory.

use std::io::Read;

/// Why a compressed body was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecompressError {
    #[error("the body decompresses to more than {limit} bytes; split the batch")]
    TooLarge { limit: usize },
    #[error("the body is not valid {format}: {reason}")]
    Invalid {
        format: &'static str,
        reason: String,
    },
}

/// Decodes a gzip body (several members are read as one stream, as RFC 1952
/// allows) of at most `limit` decompressed bytes.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecompressError::Invalid {
            format: "gzip",
            reason: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    Ok(out)
}

/// Decodes a snappy block (not the framed format) of at most `limit`
/// decompressed bytes. The block states its length up front, so an
/// oversized one is refused before anything is allocated.
pub fn unsnappy(body: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let invalid = |e: snap::Error| DecompressError::Invalid {
        format: "snappy (block format)",
        reason: e.to_string(),
    };
    let len = snap::raw::decompress_len(body).map_err(invalid)?;
    if len > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(invalid)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn gzip_round_trips_and_stops_at_the_limit() {
        let data = vec![7u8; 10_000];
        assert_eq!(gunzip(&gzip(&data), 10_000).unwrap(), data);
        assert_eq!(
            gunzip(&gzip(&data), 9_999),
            Err(DecompressError::TooLarge { limit: 9_999 })
        );
        let err = gunzip(b"not gzip at all", 100).unwrap_err();
        assert!(
            err.to_string().starts_with("the body is not valid gzip"),
            "{err}"
        );
    }

    #[test]
    fn snappy_round_trips_and_checks_the_stated_length_first() {
        let data = vec![1u8; 10_000];
        let block = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(unsnappy(&block, 10_000).unwrap(), data);
        assert_eq!(
            unsnappy(&block, 100),
            Err(DecompressError::TooLarge { limit: 100 })
        );
        let err = unsnappy(b"\xff\xff\xff\xff\xff\xff", 100).unwrap_err();
        assert!(err.to_string().contains("snappy"), "{err}");
    }
}
