//! A minimal pull scanner over JSON bytes, for the market-channel hot path: it walks objects and
//! arrays in place and hands out raw value slices, without building a tree, allocating or
//! touching floating point. Numbers are returned as their text for the exact fixed-point parsers.
//! Nesting is bounded ([`MAX_DEPTH`]) so hostile input cannot exhaust the stack. It is lenient
//! in one way: raw control characters inside strings are accepted (the values it feeds are
//! checked by the exact parsers, which accept only digits, dots and hex).

/// Deepest nesting `skip_value` follows.
pub const MAX_DEPTH: usize = 64;

/// Where and why the JSON is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed JSON at byte {at}: {what}")]
pub struct JsonError {
    /// Byte offset.
    pub at: usize,
    /// What was expected.
    pub what: &'static str,
}

/// A scalar value as found: a string's contents (without quotes) or a bare literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar<'a> {
    /// A string; `escaped` when it holds backslash escapes (the slice is then the raw text).
    Str {
        /// The string's bytes, between the quotes.
        raw: &'a [u8],
        /// Whether it holds backslash escapes.
        escaped: bool,
    },
    /// A number, `true`, `false` or `null`, as text.
    Bare(&'a [u8]),
}

impl<'a> Scalar<'a> {
    /// The text of a string without escapes, or of a bare number; `None` otherwise.
    pub fn text(&self) -> Option<&'a str> {
        let bytes = match *self {
            Scalar::Str { raw, escaped: false } => raw,
            Scalar::Bare(raw) if raw != b"null" && raw != b"true" && raw != b"false" => raw,
            _ => return None,
        };
        std::str::from_utf8(bytes).ok()
    }

    /// The raw bytes of an unescaped string or a bare number, without UTF-8 validation (the
    /// fixed-point and id parsers accept only ASCII digits anyway).
    #[inline]
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match *self {
            Scalar::Str { raw, escaped: false } => Some(raw),
            Scalar::Bare(raw) if raw != b"null" && raw != b"true" && raw != b"false" => Some(raw),
            _ => None,
        }
    }

    /// A JSON boolean, or the strings "true"/"false".
    pub fn boolean(&self) -> Option<bool> {
        match *self {
            Scalar::Bare(b"true") | Scalar::Str { raw: b"true", .. } => Some(true),
            Scalar::Bare(b"false") | Scalar::Str { raw: b"false", .. } => Some(false),
            _ => None,
        }
    }

    /// The string value with escapes decoded (rare fields such as a question).
    pub fn to_owned_string(&self) -> Option<String> {
        match *self {
            Scalar::Str { raw, escaped: false } => std::str::from_utf8(raw).ok().map(str::to_owned),
            Scalar::Str { raw, escaped: true } => unescape(raw),
            Scalar::Bare(_) => None,
        }
    }
}

fn unescape(raw: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'\\' {
            out.push(raw[i]);
            i += 1;
            continue;
        }
        let c = *raw.get(i + 1)?;
        i += 2;
        match c {
            b'"' | b'\\' | b'/' => out.push(c),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let hex = std::str::from_utf8(raw.get(i..i + 4)?).ok()?;
                let mut code = u32::from_str_radix(hex, 16).ok()?;
                i += 4;
                if (0xD800..0xDC00).contains(&code) && raw.get(i) == Some(&b'\\') && raw.get(i + 1) == Some(&b'u') {
                    let low = u32::from_str_radix(std::str::from_utf8(raw.get(i + 2..i + 6)?).ok()?, 16).ok()?;
                    code = 0x10000 + ((code - 0xD800) << 10) + (low.checked_sub(0xDC00)?);
                    i += 6;
                }
                let ch = char::from_u32(code).unwrap_or('\u{FFFD}');
                let mut buf = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

/// The scanner: a byte slice and a position.
pub struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    /// Starts at the beginning of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Scanner { bytes, pos: 0 }
    }

    fn err(&self, what: &'static str) -> JsonError {
        JsonError { at: self.pos, what }
    }

    /// Skips whitespace and returns the next byte without consuming it.
    #[inline(always)]
    pub fn peek(&mut self) -> Option<u8> {
        // Compact JSON (what venues send) has no whitespace: check the common case first.
        match self.bytes.get(self.pos) {
            Some(&b) if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') => return Some(b),
            None => return None,
            _ => {}
        }
        while let Some(&b) = self.bytes.get(self.pos) {
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                self.pos += 1;
            } else {
                return Some(b);
            }
        }
        None
    }

    /// True when only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    #[inline(always)]
    fn expect(&mut self, c: u8, what: &'static str) -> Result<(), JsonError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    /// Reads a string (the opening quote next), returning its raw contents.
    #[inline(always)]
    fn string(&mut self) -> Result<(&'a [u8], bool), JsonError> {
        self.expect(b'"', "expected a string")?;
        let start = self.pos;
        // Short strings (keys, prices, sizes) end within a few bytes: a plain loop beats a SIMD call.
        let short_end = (start + 16).min(self.bytes.len());
        while self.pos < short_end {
            match self.bytes[self.pos] {
                b'"' => {
                    let raw = &self.bytes[start..self.pos];
                    self.pos += 1;
                    return Ok((raw, false));
                }
                b'\\' => break,
                _ => self.pos += 1,
            }
        }
        let mut escaped = false;
        loop {
            let rest = &self.bytes[self.pos..];
            let Some(k) = memchr::memchr2(b'"', b'\\', rest) else { break };
            self.pos += k;
            if rest[k] == b'"' {
                let raw = &self.bytes[start..self.pos];
                self.pos += 1;
                return Ok((raw, escaped));
            }
            escaped = true;
            self.pos += 2;
            if self.pos > self.bytes.len() {
                break;
            }
        }
        Err(self.err("unterminated string"))
    }

    /// Reads a scalar: a string, number, boolean or null.
    #[inline(always)]
    pub fn scalar(&mut self) -> Result<Scalar<'a>, JsonError> {
        match self.peek() {
            Some(b'"') => self.string().map(|(raw, escaped)| Scalar::Str { raw, escaped }),
            Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                let start = self.pos;
                while let Some(&b) = self.bytes.get(self.pos) {
                    if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                Ok(Scalar::Bare(&self.bytes[start..self.pos]))
            }
            _ => Err(self.err("expected a scalar")),
        }
    }

    /// Skips any value, nested up to [`MAX_DEPTH`] (iteratively: no recursion).
    pub fn skip_value(&mut self) -> Result<(), JsonError> {
        // Bit i of `objects` tells whether the container at depth i + 1 is an object.
        let mut objects: u64 = 0;
        let mut depth = 0usize;
        loop {
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    if depth == MAX_DEPTH {
                        return Err(self.err("nesting too deep"));
                    }
                    self.pos += 1;
                    let is_object = open == b'{';
                    objects = (objects & !(1 << depth)) | (u64::from(is_object) << depth);
                    depth += 1;
                    let close = if is_object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        depth -= 1;
                    } else {
                        if is_object {
                            self.string()?;
                            self.expect(b':', "expected ':'")?;
                        }
                        continue;
                    }
                }
                Some(_) => {
                    self.scalar()?;
                }
                None => return Err(self.err("unexpected end")),
            }
            // After a value: close containers, or move on to the next element.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let is_object = objects >> (depth - 1) & 1 == 1;
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if is_object {
                            self.string()?;
                            self.expect(b':', "expected ':'")?;
                        }
                        break;
                    }
                    Some(b'}') if is_object => {
                        self.pos += 1;
                        depth -= 1;
                    }
                    Some(b']') if !is_object => {
                        self.pos += 1;
                        depth -= 1;
                    }
                    _ => return Err(self.err("expected ',' or the matching closing bracket")),
                }
            }
        }
    }

    #[inline(always)]
    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        if self.bytes.get(self.pos..self.pos + lit.len()) == Some(lit) {
            self.pos += lit.len();
            Some(())
        } else {
            None
        }
    }

    /// The contents of a string whose opening quote was just consumed, up to its closing quote
    /// (left in place); `None` on an escape or control character.
    #[inline(always)]
    fn plain_string_body(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        let rest = &self.bytes[start..];
        // Prices and sizes end within a few bytes: a plain loop beats a SIMD search there.
        for (k, &b) in rest.iter().take(12).enumerate() {
            if b == b'"' {
                self.pos += k;
                return Some(&rest[..k]);
            }
            if b == b'\\' {
                return None;
            }
        }
        let k = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[k] != b'"' {
            return None;
        }
        self.pos += k;
        Some(&rest[..k])
    }

    /// Fast path for a compact object of plain string fields in a fixed key order, given as the
    /// literal text between values: `seps[0]` opens the object up to the first value's quote
    /// (`{"price":"`), each next separator runs from one value's closing quote to the next
    /// value's opening quote (`","size":"`), and `close` ends it (`"}`). On any difference the
    /// scanner is left untouched and `None` tells the caller to take the general path.
    #[inline(always)]
    pub fn flat_fields<const N: usize>(&mut self, seps: [&[u8]; N], close: &[u8]) -> Option<[&'a [u8]; N]> {
        let save = self.pos;
        let mut out: [&'a [u8]; N] = [&[]; N];
        let mut walk = || {
            for (i, sep) in seps.iter().enumerate() {
                self.literal(sep)?;
                out[i] = self.plain_string_body()?;
            }
            self.literal(close)
        };
        match walk() {
            Some(()) => Some(out),
            None => {
                self.pos = save;
                None
            }
        }
    }

    /// Walks an object (its `{` next), calling `field` with each key and the scanner positioned at
    /// the value, which `field` must consume (or skip).
    #[inline]
    pub fn object(
        &mut self,
        mut field: impl FnMut(&mut Self, &'a [u8]) -> Result<(), JsonError>,
    ) -> Result<(), JsonError> {
        self.expect(b'{', "expected an object")?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            let (key, _) = self.string()?;
            self.expect(b':', "expected ':'")?;
            field(self, key)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or '}'")),
            }
        }
    }

    /// Walks an array (its `[` next), calling `item` with the scanner positioned at each element,
    /// which `item` must consume.
    #[inline]
    pub fn array(&mut self, mut item: impl FnMut(&mut Self) -> Result<(), JsonError>) -> Result<(), JsonError> {
        self.expect(b'[', "expected an array")?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected ',' or ']'")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_nested_values() {
        let mut s = Scanner::new(br#"{"a":[1,{"b":"x,]}"},[]],"c":{}} tail"#);
        s.skip_value().unwrap();
        assert_eq!(s.peek(), Some(b't'));
    }

    #[test]
    fn refuses_deep_nesting_and_garbage() {
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(Scanner::new(deep.as_bytes()).skip_value().is_err());
        for bad in [&b"{"[..], b"[1,", b"\"abc", b"{\"a\" 1}", b"}", b"[1 2]"] {
            assert!(Scanner::new(bad).skip_value().is_err(), "{:?}", std::str::from_utf8(bad));
        }
    }

    const LEVEL: [&[u8]; 2] = [b"{\"price\":\"", b"\",\"size\":\""];

    #[test]
    fn flat_objects_take_the_fast_path_only_when_exact() {
        let mut s = Scanner::new(br#"{"price":"0.5","size":"10"},"#);
        assert_eq!(s.flat_fields(LEVEL, b"\"}"), Some([&b"0.5"[..], &b"10"[..]]));
        assert_eq!(s.peek(), Some(b','));
        for other in [
            &br#"{"size":"10","price":"0.5"}"#[..],
            br#"{"price":0.5,"size":"10"}"#,
            br#"{"price":"0\"5","size":"1"}"#,
            br#"{ "price":"1","size":"1"}"#,
        ] {
            let mut s = Scanner::new(other);
            assert_eq!(s.flat_fields(LEVEL, b"\"}"), None);
            assert_eq!(s.peek(), Some(b'{'), "scanner must not move");
        }
    }

    #[test]
    fn unescapes_strings() {
        let mut s = Scanner::new(br#""Will \"X\" win? caf\u00e9 \ud83d\ude00""#);
        let v = s.scalar().unwrap();
        assert_eq!(v.text(), None);
        assert_eq!(v.to_owned_string().unwrap(), "Will \"X\" win? café 😀");
    }
}
