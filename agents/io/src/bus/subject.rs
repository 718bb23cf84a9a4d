//! NATS subject patterns: tokens separated by `.`, `*` matches one token, `>` (last) matches one
//! or more.

/// True when `subject` matches `pattern`.
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::subject_matches;

    #[test]
    fn wildcards() {
        assert!(subject_matches("md.sim.*", "md.sim.42"));
        assert!(!subject_matches("md.sim.*", "md.sim.42.x"));
        assert!(subject_matches("intent.>", "intent.ns.arb"));
        assert!(!subject_matches("intent.>", "intent"));
        assert!(subject_matches("a.b", "a.b"));
        assert!(!subject_matches("a.b", "a.c"));
        assert!(!subject_matches("a", "a.b"));
    }
}
