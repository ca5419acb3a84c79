//! The body's HMAC-SHA256 signature, so a receiver can check that a notification came from whoever holds `signing_secret`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// `sha256=<lowercase hex>` of HMAC-SHA256 over exactly `body` under `secret`:
/// the value of the `X-Perfwatch-Signature` header, in the form GitHub's
/// webhooks use, so existing verifiers work unchanged.
pub fn sign(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length (longer ones are hashed first).
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut text = String::with_capacity(7 + 2 * digest.len());
    text.push_str("sha256=");
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_test_case_2() {
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_signature_covers_every_byte() {
        assert_ne!(sign("k", b"{\"a\":1}"), sign("k", b"{\"a\": 1}"));
        assert_ne!(sign("k", b"x"), sign("K", b"x"));
    }
}
