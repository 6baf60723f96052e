//! Every random value restauth makes: keys, secrets, salts, identifiers.
//!
//! One policy for a failing OS random source: panic. Without it no safe key, salt or CSRF
//! secret can exist, nothing a client sends can cause it, and a guessable fallback would be
//! worse than no answer (the server's panic layer turns it into a 500 for that request).

/// Python's `ascii_letters + digits` (Django's `get_random_string` default; CSRF masking
/// depends on this order).
pub const ALPHANUMERIC: &[u8; 62] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Django's session key alphabet.
pub const LOWER_ALPHANUMERIC: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Panics
/// When the operating system's random source fails (see the module docs).
pub fn fill(buf: &mut [u8]) {
    if let Err(error) = getrandom::fill(buf) {
        panic!("the operating system's random number generator failed: {error}");
    }
}

/// `N` random bytes.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    fill(&mut buf);
    buf
}

/// `n` random bytes as `2n` lowercase hex characters.
pub fn hex<const N: usize>() -> String {
    ::hex::encode(bytes::<N>())
}

/// `len` characters of `alphabet` (2 to 256 ASCII characters), each equally likely.
pub fn string(alphabet: &[u8], len: usize) -> String {
    assert!((2..=256).contains(&alphabet.len()), "alphabet size");
    // Bytes at or above the largest multiple of the alphabet size are dropped, so that
    // `% size` favours no character.
    let size = alphabet.len();
    let limit = 256 - 256 % size;
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill(&mut buf);
        for &b in buf.iter().filter(|&&b| usize::from(b) < limit) {
            if out.len() == len {
                break;
            }
            out.push(char::from(alphabet[usize::from(b) % size]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_have_the_length_and_alphabet_asked_for() {
        for (alphabet, len) in [
            (&ALPHANUMERIC[..], 32),
            (&LOWER_ALPHANUMERIC[..], 40),
            (b"ab", 7),
        ] {
            let s = string(alphabet, len);
            assert_eq!(s.len(), len);
            assert!(s.bytes().all(|b| alphabet.contains(&b)), "{s}");
        }
        assert_ne!(string(ALPHANUMERIC, 32), string(ALPHANUMERIC, 32));
    }

    #[test]
    fn every_character_is_used_evenly() {
        // 62 does not divide 256: without rejection the first 8 characters would come up
        // 5/4 as often as the others.
        let mut counts = [0usize; 62];
        for b in string(ALPHANUMERIC, 62_000).bytes() {
            counts[ALPHANUMERIC.iter().position(|&c| c == b).unwrap()] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min > 800 && *max < 1200, "{min}..{max}");
    }

    #[test]
    fn hex_and_bytes() {
        let h = hex::<20>();
        assert_eq!(h.len(), 40);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(bytes::<16>(), bytes::<16>());
    }
}
