//! A small direct-mapped cache from the venue's id text to parsed ids. A market-data connection
//! sees the same few hundred token ids and condition ids over and over; comparing 78 bytes is
//! several times cheaper than parsing a decimal uint256 again.

use polyfleet_core::{ConditionId, TokenId};

const SLOTS: usize = 1024;

/// One cache slot: the id's text and the parsed id.
type Slot<T> = Option<(Box<[u8]>, T)>;

/// Id text -> parsed id, for token ids and condition ids.
pub(crate) struct IdCache {
    tokens: Vec<Slot<TokenId>>,
    markets: Vec<Slot<ConditionId>>,
}

impl Default for IdCache {
    fn default() -> Self {
        IdCache { tokens: vec![None; SLOTS], markets: vec![None; SLOTS] }
    }
}

impl std::fmt::Debug for IdCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdCache").finish_non_exhaustive()
    }
}

fn slot(text: &[u8]) -> usize {
    let tail = &text[text.len().saturating_sub(8)..];
    let mut h = text.len() as u64;
    for &b in tail {
        h = h.wrapping_mul(0x100000001b3).wrapping_add(u64::from(b));
    }
    // The remainder is below SLOTS, so it fits a usize on every target.
    usize::try_from((h ^ (h >> 29)) % SLOTS as u64).unwrap_or(0)
}

fn lookup<T: Copy>(table: &mut [Slot<T>], text: &[u8], parse: impl Fn(&[u8]) -> Option<T>) -> Option<T> {
    let i = slot(text);
    if let Some((key, value)) = &table[i]
        && **key == *text
    {
        return Some(*value);
    }
    let value = parse(text)?;
    table[i] = Some((text.into(), value));
    Some(value)
}

impl IdCache {
    /// The token id written as `text`.
    pub(crate) fn token(&mut self, text: &[u8]) -> Option<TokenId> {
        lookup(&mut self.tokens, text, |t| TokenId::parse_bytes(t).ok())
    }

    /// The condition id written as `text`.
    pub(crate) fn market(&mut self, text: &[u8]) -> Option<ConditionId> {
        lookup(&mut self.markets, text, |t| ConditionId::parse_bytes(t).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_values_equal_parsed_values_even_on_collisions() {
        let mut c = IdCache::default();
        for i in 0..5000u128 {
            let text = (i * 7_919_000_000_000_000_000_123).to_string();
            let want = TokenId::parse(&text).unwrap();
            assert_eq!(c.token(text.as_bytes()), Some(want));
            assert_eq!(c.token(text.as_bytes()), Some(want));
        }
        assert_eq!(c.token(b"12x"), None);
        assert_eq!(c.market(b"0x00"), None);
    }
}
