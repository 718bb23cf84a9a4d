//! The report page's drift section, per strategy that declares drift alarms: each metric's
//! samples watched, how often its test fired over the run, and the alarm standing at the end.

use polyfleet_core::strategy::drift::DriftMetric;

use crate::html::esc;
use crate::report::StrategyLine;

/// The section; empty when no strategy declares drift alarms.
pub fn section(strategies: &[StrategyLine]) -> String {
    let mut out = String::new();
    for s in strategies {
        let Some(d) = &s.drift else { continue };
        out.push_str(&format!(
            "<h3>{}</h3>\n<p>New positions at {}.{:02}% of full size at the end.</p>\n\
<table class=\"drift\"><tr><th>Metric</th><th>Samples</th><th>Fired</th><th>Standing at the end</th></tr>\n",
            esc(&s.name),
            d.size_factor_bps / 100,
            d.size_factor_bps % 100
        ));
        for (k, m) in DriftMetric::ALL.iter().enumerate() {
            let standing = d.alarms.iter().find(|a| a.metric == *m).map_or("no".to_string(), |a| a.detail.clone());
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                m.as_str(),
                d.samples[k],
                d.fired[k],
                esc(&standing)
            ));
        }
        out.push_str("</table>\n");
    }
    if out.is_empty() {
        return out;
    }
    format!(
        "<h2>Drift</h2>\n<div id=\"drift\">\n<p>Page–Hinkley on the fills' markouts, CUSUM on their slippage against \
the decision mid, ADWIN on each model version's forecast errors (the Strategy's <code>drift</code> block).</p>\n{out}</div>\n"
    )
}
