//! Challenge-response login: the master sends a random nonce, the worker answers
//! HMAC-SHA256(secret, nonce); the secret never crosses the wire.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Bytes of randomness in a login nonce.
pub const NONCE_LEN: usize = 32;

/// A fresh random nonce, hex-encoded (what the master sends in its challenge).
///
/// # Examples
///
/// ```
/// let a = components::workers::auth::new_nonce();
/// assert_eq!(a.len(), 64);
/// assert_ne!(a, components::workers::auth::new_nonce());
/// ```
pub fn new_nonce() -> String {
    let mut bytes = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut bytes);
    hex(&bytes)
}

/// The worker's answer to `nonce`: HMAC-SHA256 keyed by `secret`, hex-encoded.
///
/// # Examples
///
/// ```
/// use components::workers::auth::{answer, verify};
/// let mac = answer(b"s3cret", "abcd");
/// assert!(verify(b"s3cret", "abcd", &mac));
/// assert!(!verify(b"other", "abcd", &mac));
/// ```
pub fn answer(secret: &[u8], nonce: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(nonce.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Whether `mac` (hex) is the right answer to `nonce` for `secret`. The comparison of
/// the MAC bytes is constant-time (`hmac`'s `verify_slice`, built on `subtle`).
pub fn verify(secret: &[u8], nonce: &str, mac: &str) -> bool {
    let Some(given) = unhex(mac) else {
        return false;
    };
    let mut expected = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    expected.update(nonce.as_bytes());
    expected.verify_slice(&given).is_ok()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_hmac_vector_matches() {
        // RFC 4231 test case 2.
        assert_eq!(
            answer(b"Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn malformed_answers_are_refused() {
        assert!(!verify(b"k", "n", "zz"));
        assert!(!verify(b"k", "n", "abc"));
        assert!(!verify(b"k", "n", ""));
    }
}
