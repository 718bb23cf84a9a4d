//! What benchmarks read about the processes they run and the latencies they measure: CPU time and
//! resident memory from `/proc`, nearest-rank percentiles, and a run cut into fifths (to see
//! whether a queue grows).

use std::process::Command;

/// Clock ticks per second of `/proc`'s CPU times.
pub fn clock_ticks() -> u64 {
    let out = Command::new("getconf").arg("CLK_TCK").output().expect("getconf");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("CLK_TCK")
}

/// CPU time (user and system, all threads) process `pid` has used, in nanoseconds.
pub fn cpu_ns(pid: u32, clk_tck: u64) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) follow its closing parenthesis;
    // utime and stime are the 12th and 13th of them.
    let fields: Vec<u64> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    (fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0)) * 1_000_000_000 / clk_tck
}

/// Resident memory of process `pid` (`VmRSS`), in KiB; 0 when it cannot be read.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// `n`, p50, p99, p99.9 and max of nanosecond samples, printed in microseconds (nearest rank).
pub fn percentiles(mut v: Vec<u64>) -> String {
    if v.is_empty() {
        return "no samples".into();
    }
    v.sort_unstable();
    format!(
        "n={:>7}  p50 {:>7.1} µs  p99 {:>7.1} µs  p99.9 {:>8.1} µs  max {:>8.1} µs",
        v.len(),
        percentile(&v, 500) as f64 / 1000.0,
        percentile(&v, 990) as f64 / 1000.0,
        percentile(&v, 999) as f64 / 1000.0,
        *v.last().unwrap() as f64 / 1000.0
    )
}

/// The nearest-rank percentile `q` (parts per thousand) of `sorted`; 0 when empty.
pub fn percentile(sorted: &[u64], q: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[(sorted.len() * q).div_ceil(1000).clamp(1, sorted.len()) - 1]
}

/// Fifths of a run, by the time each sample was sent.
pub const WINDOWS: usize = 5;

/// The latencies (`(sent_ns, latency_ns)`) of each fifth of a run of `seconds` that started at
/// `start_ns`, by send time.
pub fn windows(lat: &[(u64, u64)], start_ns: u64, seconds: u64) -> Vec<Vec<u64>> {
    let mut out = vec![vec![]; WINDOWS];
    let width = (seconds * 1_000_000_000 / WINDOWS as u64).max(1);
    for (sent, l) in lat {
        let w = usize::try_from(sent.saturating_sub(start_ns) / width).unwrap_or(WINDOWS).min(WINDOWS - 1);
        out[w].push(*l);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_and_fifths() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!((percentile(&v, 500), percentile(&v, 990), percentile(&v, 999)), (500, 990, 999));
        assert_eq!(percentile(&[7], 990), 7);
        let w = windows(&[(0, 1), (2_000_000_000, 2), (9_999_999_999, 3), (20_000_000_000, 4)], 0, 10);
        assert_eq!(w, vec![vec![1], vec![2], vec![], vec![], vec![3, 4]]);
        assert!(rss_kib(std::process::id()) > 0);
        assert!(cpu_ns(std::process::id(), clock_ticks()) < u64::MAX);
    }
}
