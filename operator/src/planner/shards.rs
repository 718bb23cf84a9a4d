//! Assigning a Venue's Markets to market-data pods: at most `per_pod` tokens per pod, a Market's
//! tokens always on one pod (its books are consistent with one another, and a price_change frame
//! covering both tokens of a binary market is applied at once). Markets are placed in name order,
//! first fit, so the assignment is a pure function of the set of Markets: a Market coming or going
//! moves only the Markets after it in that order that no longer fit where they were.

/// One market-data pod's share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// Shard index (part of the Deployment name).
    pub index: usize,
    /// Markets served, by name.
    pub markets: Vec<String>,
    /// Tokens served (decimal ids), in the Markets' order.
    pub tokens: Vec<String>,
}

/// Assigns `markets` (name, tokens) to shards of at most `per_pod` tokens. A Market with more
/// tokens than `per_pod` gets a shard of its own.
pub fn assign(markets: &[(String, Vec<String>)], per_pod: usize) -> Vec<Shard> {
    let per_pod = per_pod.max(1);
    let mut sorted: Vec<&(String, Vec<String>)> = markets.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut shards: Vec<Shard> = vec![];
    for (name, tokens) in sorted {
        let fits = shards.iter_mut().find(|s| s.tokens.len() + tokens.len() <= per_pod);
        match fits {
            Some(s) => {
                s.markets.push(name.clone());
                s.tokens.extend(tokens.iter().cloned());
            }
            None => shards.push(Shard { index: shards.len(), markets: vec![name.clone()], tokens: tokens.clone() }),
        }
    }
    shards
}
