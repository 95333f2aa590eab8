//! The Luhn (mod 10) check digit, used by RPPS, FINESS, SIREN and SIRET numbers.

/// True when `digits` (ASCII digits, check digit last) passes the Luhn check. Any other byte
/// fails it.
pub(crate) fn is_valid(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &c) in digits.iter().rev().enumerate() {
        if !c.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(c - b'0');
        // Every second digit from the right (the check digit being the first) is doubled.
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::is_valid;

    #[test]
    fn known_numbers() {
        assert!(is_valid(b"79927398713"));
        assert!(!is_valid(b"79927398710"));
        assert!(!is_valid(b""));
        assert!(!is_valid(b"7992739871a"));
    }
}
