//! The reports' interactive charts: plotly.js figures built with the `plotly` crate. Each chart
//! zooms by dragging a box (or the range slider under time charts), pans, resets on a
//! double-click, shows values on hover and hides a series when its legend entry is clicked.
//! plotly.js itself is embedded once per page ([`script`]), so a report stays one file that opens
//! offline. Figures hold floats: they draw what the fixed-point accounting computed, they never
//! compute money.

use std::sync::OnceLock;

use plotly::common::{Fill, Line, LineShape, Marker, MarkerSymbol, Mode, Title};
use plotly::configuration::Configuration;
use plotly::layout::update_menu::{Button, ButtonMethod, UpdateMenu};
use plotly::layout::{Axis, AxisType, HoverMode, Legend, Margin, RangeSlider};
use plotly::{Bar, Layout, Plot, Scatter, Trace};

/// Colours of series, in order (a colour-blind-safe palette).
pub(crate) const PALETTE: [&str; 8] =
    ["#1f5fbf", "#d62728", "#2ca02c", "#ff7f0e", "#7b3fb4", "#555555", "#17becf", "#bcbd22"];

/// The colour of series `k`.
pub(crate) fn color(k: usize) -> &'static str {
    PALETTE[k % PALETTE.len()]
}

/// The page's plotly.js, as one `<script>` element (plotly.rs ships MathJax beside it; no chart
/// here typesets, so only plotly.js is kept: 4.6 MB instead of 6.8).
pub fn script() -> &'static str {
    static JS: OnceLock<String> = OnceLock::new();
    JS.get_or_init(|| {
        let all = Plot::offline_js_sources();
        let first = all.find("</script>").map_or(all.len(), |at| at + "</script>".len());
        all[..first].trim().to_string()
    })
}

/// Unix ns as plotly's date-time text (UTC, to the microsecond).
pub(crate) fn time(ns: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(ns))
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S%.6f").to_string())
        .unwrap_or_else(|_| ns.to_string())
}

/// What the x axis holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XAxis {
    /// Date-times ([`time`]), with a range slider.
    Time,
    /// Numbers.
    Linear,
    /// Names (bars).
    Category,
}

/// One chart: a plotly figure and the id of its element.
pub(crate) struct Figure {
    id: String,
    plot: Plot,
    height: u32,
}

impl Figure {
    /// An empty chart titled `title`, its axes named `x` and `y`.
    pub(crate) fn new(id: &str, title: &str, x: (&str, XAxis), y: &str) -> Figure {
        let mut x_axis = Axis::new().title(Title::with_text(x.0)).auto_margin(true);
        x_axis = match x.1 {
            XAxis::Time => x_axis.type_(AxisType::Date).range_slider(RangeSlider::new().visible(true).thickness(0.06)),
            XAxis::Linear => x_axis.type_(AxisType::Linear),
            XAxis::Category => x_axis.type_(AxisType::Category),
        };
        let layout = Layout::new()
            .title(Title::with_text(title))
            .x_axis(x_axis)
            .y_axis(Axis::new().title(Title::with_text(y)).auto_margin(true).zero_line(true))
            .hover_mode(if x.1 == XAxis::Category { HoverMode::Closest } else { HoverMode::XUnified })
            .legend(Legend::new())
            .margin(Margin::new().top(50).bottom(40).left(60).right(20));
        let mut plot = Plot::new();
        plot.set_layout(layout);
        plot.set_configuration(Configuration::new().responsive(true).display_logo(false));
        Figure { id: id.to_string(), plot, height: 380 }
    }

    /// Taller or shorter than the default 380 px.
    pub(crate) fn height(mut self, px: u32) -> Figure {
        self.height = px;
        self
    }

    /// Adds a series.
    pub(crate) fn add(&mut self, trace: Box<dyn Trace>) {
        self.plot.add_trace(trace);
    }

    /// A dropdown over the chart: each entry shows the series whose indices it lists and hides
    /// the others (series are shown by the first entry at start).
    pub(crate) fn choices(&mut self, label: &str, entries: &[(String, Vec<usize>)], series: usize) {
        let buttons = entries
            .iter()
            .map(|(name, shown)| {
                let visible: Vec<bool> = (0..series).map(|i| shown.contains(&i)).collect();
                Button::new()
                    .label(name)
                    .method(ButtonMethod::Restyle)
                    .args(serde_json::json!([{ "visible": visible }]))
            })
            .collect();
        let menu = UpdateMenu::new().buttons(buttons).x(0.0).y(1.18).show_active(true).name(label);
        let layout = self.plot.layout().clone().update_menus(vec![menu]);
        self.plot.set_layout(layout);
    }

    /// The chart's HTML: its element and the script that draws it (plotly.js must be on the page
    /// before it: [`script`]).
    pub(crate) fn html(&self) -> String {
        format!(
            "<div class=\"chart\" style=\"height:{}px\">{}</div>\n",
            self.height,
            self.plot.to_inline_html(Some(&self.id))
        )
    }
}

/// A line through `(x, y)`.
pub(crate) fn line<X: serde::Serialize + Clone + 'static>(
    name: &str,
    x: Vec<X>,
    y: Vec<f64>,
    k: usize,
) -> Box<Scatter<X, f64>> {
    Scatter::new(x, y).name(name).mode(Mode::Lines).line(Line::new().color(color(k)).width(1.5))
}

/// A value held until the next point (positions, inventories).
pub(crate) fn steps<X: serde::Serialize + Clone + 'static>(
    name: &str,
    x: Vec<X>,
    y: Vec<f64>,
    k: usize,
) -> Box<Scatter<X, f64>> {
    Scatter::new(x, y).name(name).mode(Mode::Lines).line(Line::new().color(color(k)).shape(LineShape::Hv).width(1.5))
}

/// The area between `(x, y)` and zero.
pub(crate) fn area<X: serde::Serialize + Clone + 'static>(
    name: &str,
    x: Vec<X>,
    y: Vec<f64>,
    k: usize,
) -> Box<Scatter<X, f64>> {
    Scatter::new(x, y).name(name).mode(Mode::Lines).fill(Fill::ToZeroY).line(Line::new().color(color(k)).width(1.0))
}

/// Points, each with its hover text.
pub(crate) fn points<X: serde::Serialize + Clone + 'static>(
    name: &str,
    x: Vec<X>,
    y: Vec<f64>,
    text: Vec<String>,
    colour: &'static str,
    symbol: MarkerSymbol,
) -> Box<Scatter<X, f64>> {
    Scatter::new(x, y)
        .name(name)
        .mode(Mode::Markers)
        .marker(Marker::new().color(colour).size(7).symbol(symbol))
        .text_array(text)
        .hover_info(plotly::common::HoverInfo::All)
}

/// Bars, each coloured by its sign (gains green, losses red).
pub(crate) fn signed_bars<X: serde::Serialize + Clone + 'static>(
    name: &str,
    x: Vec<X>,
    y: Vec<f64>,
) -> Box<Bar<X, f64>> {
    let colours: Vec<&str> = y.iter().map(|v| if *v < 0.0 { "#d62728" } else { "#2ca02c" }).collect();
    Bar::new(x, y).name(name).marker(Marker::new().color_array(colours))
}
