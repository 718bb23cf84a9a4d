//! Exact decimal string <-> scaled integer conversion, the one parser behind every money type.

/// Why a decimal string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Nothing to parse.
    #[error("empty number")]
    Empty,
    /// Not a plain decimal (`[-]digits[.digits]`, or `.digits`).
    #[error("malformed number {0:?}")]
    Malformed(String),
    /// More significant decimals than the type holds.
    #[error("{0:?} has more than {1} significant decimals")]
    TooPrecise(String, u32),
    /// Outside the type's domain.
    #[error("{0:?} is out of range")]
    OutOfRange(String),
}

/// Fast path for the common case: an unsigned plain decimal with at most `decimals` fractional
/// digits that fits a u64 once scaled. `None` means "take the full parser", which also produces
/// the precise error.
#[inline(always)]
pub(crate) fn parse_unsigned_fast(s: &[u8], decimals: u32) -> Option<u64> {
    const POW10: [u64; 20] = {
        let mut t = [1u64; 20];
        let mut i = 1;
        while i < 20 {
            t[i] = t[i - 1] * 10;
            i += 1;
        }
        t
    };
    let n = s.len();
    if n == 0 || n > 19 {
        return None;
    }
    let mut i = 0;
    let mut value: u64 = 0;
    while i < n {
        let d = s[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        value = value * 10 + u64::from(d);
        i += 1;
    }
    if i == n {
        return value.checked_mul(POW10[decimals as usize]);
    }
    // A dot must follow, then 1 ..= decimals digits (a bare or trailing dot is malformed: leave
    // it to the full parser, as anything else unusual).
    if s[i] != b'.' {
        return None;
    }
    let frac = n - i - 1;
    if frac == 0 || frac > decimals as usize {
        return None;
    }
    i += 1;
    while i < n {
        let d = s[i].wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        value = value * 10 + u64::from(d);
        i += 1;
    }
    value.checked_mul(POW10[decimals as usize - frac])
}

/// Parses `s` into (negative, magnitude scaled by 10^decimals). Accepts `12`, `12.5`, `.5`,
/// `0.500000`, a leading `-` or `+`; refuses exponents, spaces, a bare or trailing dot, and
/// non-zero digits beyond `decimals`.
pub(crate) fn parse_scaled(s: &[u8], decimals: u32) -> Result<(bool, u128), ParseError> {
    let bytes = s;
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    let (negative, rest) = match bytes[0] {
        b'-' => (true, &bytes[1..]),
        b'+' => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let malformed = || ParseError::Malformed(lossy(s));
    let (int, frac) = match rest.iter().position(|&b| b == b'.') {
        Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
        None => (rest, None),
    };
    if int.is_empty() && frac.is_none_or(|f| f.is_empty()) {
        return Err(malformed());
    }
    if frac.is_some_and(|f| f.is_empty()) {
        return Err(malformed());
    }
    let overflow = || ParseError::OutOfRange(lossy(s));
    let frac = frac.unwrap_or(&[]);
    // Fast path: everything fits a u64 (19 significant digits); the u128 path below handles the rest.
    if int.len() + decimals as usize <= 19 && frac.len() <= decimals as usize {
        let mut value: u64 = 0;
        for &b in int.iter().chain(frac) {
            if !b.is_ascii_digit() {
                return Err(malformed());
            }
            value = value * 10 + u64::from(b - b'0');
        }
        value *= 10u64.pow(decimals - u32::try_from(frac.len()).map_err(|_| malformed())?);
        return Ok((negative && value != 0, u128::from(value)));
    }
    let mut value: u128 = 0;
    for &b in int {
        if !b.is_ascii_digit() {
            return Err(malformed());
        }
        value = value.checked_mul(10).and_then(|v| v.checked_add(u128::from(b - b'0'))).ok_or_else(overflow)?;
    }
    for (i, &b) in frac.iter().enumerate() {
        if !b.is_ascii_digit() {
            return Err(malformed());
        }
        if u32::try_from(i).map_or(true, |i| i >= decimals) {
            if b != b'0' {
                return Err(ParseError::TooPrecise(lossy(s), decimals));
            }
            continue;
        }
        value = value.checked_mul(10).and_then(|v| v.checked_add(u128::from(b - b'0'))).ok_or_else(overflow)?;
    }
    let used = u32::try_from(frac.len()).unwrap_or(u32::MAX).min(decimals);
    value = value.checked_mul(10u128.pow(decimals - used)).ok_or_else(overflow)?;
    Ok((negative && value != 0, value))
}

fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// Formats a scaled magnitude as a decimal with trailing zeros trimmed (`5100`, 4 -> `0.51`).
pub(crate) fn format_scaled(
    f: &mut std::fmt::Formatter<'_>,
    negative: bool,
    magnitude: u128,
    decimals: u32,
) -> std::fmt::Result {
    let unit = 10u128.pow(decimals);
    let (int, mut frac) = (magnitude / unit, magnitude % unit);
    if negative {
        f.write_str("-")?;
    }
    write!(f, "{int}")?;
    if frac != 0 {
        let mut width = decimals as usize;
        while frac % 10 == 0 {
            frac /= 10;
            width -= 1;
        }
        write!(f, ".{frac:0width$}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_venue_shapes() {
        assert_eq!(parse_scaled(b"0.51", 4), Ok((false, 5100)));
        assert_eq!(parse_scaled(b".48", 4), Ok((false, 4800)));
        assert_eq!(parse_scaled(b"150.0", 6), Ok((false, 150_000_000)));
        assert_eq!(parse_scaled(b"10500100", 6), Ok((false, 10_500_100_000_000)));
        assert_eq!(parse_scaled(b"199.31", 6), Ok((false, 199_310_000)));
        assert_eq!(parse_scaled(b"-0.000001", 6), Ok((true, 1)));
        assert_eq!(parse_scaled(b"-0", 6), Ok((false, 0)));
        assert_eq!(parse_scaled(b"0.510000", 4), Ok((false, 5100)));
    }

    #[test]
    fn fast_path_agrees_with_the_full_parser() {
        for s in ["0.51", ".48", "150.0", "10500100", "199.31", "0", "1", "0.000001", "1844674407370.95516"] {
            let fast = parse_unsigned_fast(s.as_bytes(), 6).map(u128::from);
            assert_eq!(fast, parse_scaled(s.as_bytes(), 6).ok().map(|(_, v)| v), "{s}");
        }
        // Declined (the full parser decides): malformed, signed, too precise, or too long.
        for s in ["", ".", "1.", "1.2.3", "-1", "1e3", "0.0000001", "99999999999999999999", "1844674407370.955161"] {
            assert_eq!(parse_unsigned_fast(s.as_bytes(), 6), None, "{s}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_plain_decimal() {
        for bad in ["", ".", "-", "1.", "1e3", " 1", "1 ", "0x10", "1.2.3", "--1", "NaN", "inf", "1,5"] {
            assert!(parse_scaled(bad.as_bytes(), 6).is_err(), "{bad:?} accepted");
        }
        assert_eq!(parse_scaled(b"0.00001", 4), Err(ParseError::TooPrecise("0.00001".into(), 4)));
        assert!(matches!(parse_scaled("9".repeat(60).as_bytes(), 6), Err(ParseError::OutOfRange(_))));
    }
}
