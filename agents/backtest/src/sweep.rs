//! Parameter sweeps: `--sweep key=v1,v2,...` (repeatable; the grid is every combination). A key
//! is a parameter of the strategy type's block in camelCase (`minEdgeBps`), applied to every
//! strategy that has it, or `<strategy>.<key>` for one strategy. Values are read as JSON
//! (numbers, `"FOK"`, ...) and as plain strings otherwise. Runs go to worker threads; results
//! come back in grid order whatever finished first, then are ranked.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use polyfleet_core::config::{StrategyConfig, StrategyParams};
use serde_json::Value;

/// Why a sweep is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sweep {0}")]
pub struct SweepError(pub String);

/// One swept parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Strategy name, or every strategy.
    pub strategy: Option<String>,
    /// Parameter key.
    pub key: String,
    /// Values.
    pub values: Vec<Value>,
}

/// Parses `key=v1,v2,...`.
pub fn parse(s: &str) -> Result<Axis, SweepError> {
    let (k, vs) = s.split_once('=').ok_or_else(|| SweepError(format!("{s:?}: expected key=v1,v2,...")))?;
    let (strategy, key) = match k.split_once('.') {
        Some((st, key)) => (Some(st.to_string()), key.to_string()),
        None => (None, k.to_string()),
    };
    let values: Vec<Value> = vs
        .split(',')
        .filter(|v| !v.is_empty())
        .map(|v| serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string())))
        .collect();
    if key.is_empty() || values.is_empty() {
        return Err(SweepError(format!("{s:?}: expected key=v1,v2,...")));
    }
    Ok(Axis { strategy, key, values })
}

/// The axes (indices into the grid's axes) that changed nothing: every two points of `points`
/// that differ only on that axis gave equal `results` (`results[i]` is the outcome of
/// `points[i]`). An axis with one value is never reported.
pub fn without_effect<T: PartialEq>(points: &[Vec<usize>], results: &[T]) -> Vec<usize> {
    let axes = points.first().map_or(0, Vec::len);
    (0..axes)
        .filter(|&a| {
            let mut compared = false;
            for (i, p) in points.iter().enumerate() {
                for (j, q) in points.iter().enumerate().skip(i + 1) {
                    let only_a = (0..axes).all(|k| k == a || p[k] == q[k]) && p[a] != q[a];
                    if only_a {
                        compared = true;
                        if results[i] != results[j] {
                            return false;
                        }
                    }
                }
            }
            compared
        })
        .collect()
}

/// Every combination of the axes' values, as (axis index, value index) choices per point.
pub fn grid(axes: &[Axis]) -> Vec<Vec<usize>> {
    let mut points = vec![vec![]];
    for a in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                (0..a.values.len()).map(move |i| {
                    let mut q = p.clone();
                    q.push(i);
                    q
                })
            })
            .collect();
    }
    points
}

/// The strategies with one grid point applied, and its `key=value` labels. A key that no
/// strategy has is an error (a typo would otherwise sweep nothing).
pub fn apply(
    strategies: &[StrategyConfig],
    axes: &[Axis],
    point: &[usize],
) -> Result<(Vec<StrategyConfig>, Vec<String>), SweepError> {
    let mut out = strategies.to_vec();
    let mut labels = vec![];
    for (a, &vi) in axes.iter().zip(point) {
        let v = &a.values[vi];
        let mut hit = false;
        for s in out.iter_mut().filter(|s| a.strategy.as_ref().is_none_or(|n| *n == s.name)) {
            let mut doc = serde_json::to_value(&s.parameters).map_err(|e| SweepError(e.to_string()))?;
            if let Some(obj) = doc.as_object_mut()
                && obj.contains_key(&a.key)
            {
                obj.insert(a.key.clone(), v.clone());
                // Typed again: a swept value the strategy would refuse is an error here.
                s.parameters = StrategyParams::decode(s.type_, doc)
                    .map_err(|e| SweepError(format!("{}={v} for {}: {e}", a.key, s.name)))?;
                hit = true;
            }
        }
        if !hit {
            return Err(SweepError(format!("parameter {} is not a parameter of any strategy run", a.key)));
        }
        let prefix = a.strategy.as_ref().map(|s| format!("{s}.")).unwrap_or_default();
        let shown = v.as_str().map_or_else(|| v.to_string(), str::to_string);
        labels.push(format!("{prefix}{}={shown}", a.key));
    }
    Ok((out, labels))
}

/// Runs `job` on every item with up to `workers` threads; results in item order.
pub fn parallel<T: Sync, R: Send>(items: &[T], workers: usize, job: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = job(item);
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(r);
                }
            });
        }
    });
    results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().flatten().collect()
}

/// Order of results best first: higher Sharpe (runs without one last), then higher PnL micros,
/// then grid order.
pub fn rank(keys: &[(Option<f64>, i64)]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..keys.len()).collect();
    idx.sort_by(|&a, &b| {
        let (sa, pa) = keys[a];
        let (sb, pb) = keys[b];
        let s = match (sa, sb) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        s.then(pb.cmp(&pa)).then(a.cmp(&b))
    });
    idx
}
