//! Charts drawn on the server as SVG: time series as lines, and the dependency graph of
//! probed targets. Every text is escaped; no script or style element is emitted, so the
//! dashboard's content security policy holds.

use automagik_telemetry_core::time::rfc3339;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Size of a chart when the caller does not ask for one, in pixels.
pub const DEFAULT_SIZE: (u32, u32) = (720, 240);
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 44.0;
/// Line colours, distinguishable for the common colour-vision deficiencies.
const PALETTE: [&str; 8] = [
    "#2f6fdf", "#e0731c", "#1a9c6b", "#c2185b", "#7b57c9", "#8d6e00", "#0097a7", "#5f6b7a",
];

/// One line of a chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    /// Legend text.
    pub label: String,
    /// (time in ns, value); non-finite values are skipped.
    pub points: Vec<(u64, f64)>,
}

/// A time-series chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    /// Accessible title.
    pub title: String,
    /// Start of the time axis, ns.
    pub from: u64,
    /// End of the time axis, ns.
    pub to: u64,
    /// The lines.
    pub lines: Vec<Line>,
    /// Width and height in pixels: text keeps its size whatever the chart's.
    pub size: (u32, u32),
}

/// Text made safe for SVG (and HTML) content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A round upper bound and tick step for values up to `max` (about four ticks).
fn nice_scale(max: f64) -> (f64, f64) {
    if !(max.is_finite() && max > 0.0) {
        return (1.0, 0.25);
    }
    let rough = max / 4.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude);
    ((max / step).ceil().max(1.0) * step, step)
}

/// A short number: 950, 1.2k, 3.4M; small values keep their decimals.
pub fn short_number(v: f64) -> String {
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G", trim(format!("{:.1}", v / 1e9)))
    } else if a >= 1e6 {
        format!("{}M", trim(format!("{:.1}", v / 1e6)))
    } else if a >= 1e3 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a >= 10.0 || a == 0.0 {
        trim(format!("{v:.0}"))
    } else {
        trim(format!("{v:.2}"))
    }
}

/// The label of a time tick: `HH:MM` (UTC) within a day, `MM-DD HH:MM` beyond.
fn time_label(ns: u64, range_ns: u64) -> String {
    let text = rfc3339(ns);
    if range_ns <= 86_400 * 1_000_000_000 {
        text.get(11..16).unwrap_or_default().to_string()
    } else {
        text.get(5..16).unwrap_or_default().replace('T', " ")
    }
}

/// Renders `chart` as a standalone SVG document of its size (which scales down to a
/// smaller container).
pub fn line_chart(chart: &Chart) -> String {
    let mut out = String::new();
    let title = escape(&chart.title);
    let (width, height) = (f64::from(chart.size.0), f64::from(chart.size.1));
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{title}" class="chart" font-family="system-ui, sans-serif" font-size="11"><title>{title}</title>"#
    );
    let (from, to) = (chart.from, chart.to.max(chart.from.saturating_add(1)));
    let plot_w = width - LEFT - RIGHT;
    let plot_h = height - TOP - BOTTOM;
    let (min, max) = chart
        .lines
        .iter()
        .flat_map(|l| &l.points)
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !max.is_finite() {
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#6b7280">no data in this range</text></svg>"##,
            width / 2.0,
            height / 2.0
        );
        return out;
    }
    // The axis includes zero; its ends are whole ticks.
    let (_, step) = nice_scale(max.max(0.0) - min.min(0.0));
    let bottom = (min.min(0.0) / step).floor() * step;
    let top = (max.max(0.0) / step).ceil() * step;
    // All zero: the default scale of four ticks.
    let top = if top > bottom {
        top
    } else {
        bottom + 4.0 * step
    };
    let span = (top - bottom).max(f64::MIN_POSITIVE);
    let x = |t: u64| LEFT + (t.saturating_sub(from) as f64 / (to - from) as f64).min(1.0) * plot_w;
    let y = |v: f64| TOP + plot_h - (v - bottom) / span * plot_h;
    // Grid and value axis.
    let mut tick = bottom;
    let mut guard = 0;
    while tick <= top + step / 2.0 && guard < 40 {
        let ty = y(tick);
        let _ = write!(
            out,
            r##"<line x1="{LEFT}" x2="{}" y1="{ty:.1}" y2="{ty:.1}" stroke="#e5e7eb"/><text x="{}" y="{:.1}" text-anchor="end" fill="#6b7280">{}</text>"##,
            width - RIGHT,
            LEFT - 6.0,
            ty + 4.0,
            short_number(tick)
        );
        tick += step;
        guard += 1;
    }
    // Time axis: five labels.
    for i in 0..=4u64 {
        let t = from + (to - from) / 4 * i;
        let tx = x(t);
        let anchor = match i {
            0 => "start",
            4 => "end",
            _ => "middle",
        };
        let _ = write!(
            out,
            r##"<text x="{tx:.1}" y="{:.1}" text-anchor="{anchor}" fill="#6b7280">{}</text>"##,
            TOP + plot_h + 16.0,
            time_label(t, to - from)
        );
    }
    // Lines (a lone point is a dot) and legend.
    let mut legend_x = LEFT;
    for (i, line) in chart.lines.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let points: Vec<(f64, f64)> = line
            .points
            .iter()
            .filter(|p| p.1.is_finite())
            .map(|&(t, v)| (x(t), y(v)))
            .collect();
        let label = escape(&line.label);
        let _ = write!(out, r#"<g class="series" data-label="{label}">"#);
        if points.len() == 1 {
            let _ = write!(
                out,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                points[0].0, points[0].1
            );
        } else if !points.is_empty() {
            let path: Vec<String> = points
                .iter()
                .map(|(px, py)| format!("{px:.1},{py:.1}"))
                .collect();
            let _ = write!(
                out,
                r#"<polyline fill="none" stroke="{colour}" stroke-width="2" stroke-linejoin="round" points="{}"/>"#,
                path.join(" ")
            );
        }
        out.push_str("</g>");
        if legend_x < width - 80.0 {
            let ly = height - 10.0;
            let _ = write!(
                out,
                r##"<rect x="{legend_x:.1}" y="{:.1}" width="10" height="10" fill="{colour}"/><text x="{:.1}" y="{ly:.1}" fill="#374151">{label}</text>"##,
                ly - 9.0,
                legend_x + 14.0,
            );
            legend_x += 24.0 + 6.5 * line.label.chars().count().min(40) as f64;
        }
    }
    out.push_str("</svg>");
    out
}

/// One node of the dependency graph.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Target name.
    pub name: String,
    /// `up`, `down` or `blocked`.
    pub state: String,
    /// Names of the targets it depends on.
    pub depends_on: Vec<String>,
}

fn state_colour(state: &str) -> &'static str {
    match state {
        "up" => "#1a9c6b",
        "blocked" => "#d08700",
        _ => "#d32f2f",
    }
}

/// Targets in columns by dependency depth (those depending on nothing on the left),
/// arrows from each target to what it depends on, coloured by state.
pub fn dependency_graph(nodes: &[Node]) -> String {
    let known: BTreeMap<&str, &Node> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    // Depth = longest chain of known dependencies; cycles are cut at the node count.
    let mut depth: BTreeMap<&str, usize> = known.keys().map(|k| (*k, 0)).collect();
    for _ in 0..nodes.len() {
        let mut changed = false;
        for n in nodes {
            let d = n
                .depends_on
                .iter()
                .filter_map(|dep| depth.get(dep.as_str()))
                .map(|d| d + 1)
                .max()
                .unwrap_or(0)
                .min(nodes.len());
            if depth.get(n.name.as_str()) != Some(&d) {
                depth.insert(n.name.as_str(), d);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut columns: BTreeMap<usize, Vec<&Node>> = BTreeMap::new();
    for n in nodes {
        columns.entry(depth[n.name.as_str()]).or_default().push(n);
    }
    let (box_w, box_h, gap_x, gap_y) = (170.0, 34.0, 70.0, 16.0);
    let rows = columns.values().map(Vec::len).max().unwrap_or(0);
    let width = (columns.len() as f64 * (box_w + gap_x) - gap_x + 20.0).max(200.0);
    let height = (rows as f64 * (box_h + gap_y) - gap_y + 20.0).max(60.0);
    let mut at: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (col, (_, members)) in columns.iter().enumerate() {
        for (row, n) in members.iter().enumerate() {
            at.insert(
                n.name.as_str(),
                (
                    10.0 + col as f64 * (box_w + gap_x),
                    10.0 + row as f64 * (box_h + gap_y),
                ),
            );
        }
    }
    let mut out = String::new();
    let _ = write!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="Dependencies of the probed targets" class="graph" font-family="system-ui, sans-serif" font-size="12"><title>Dependencies of the probed targets</title><defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#6b7280"/></marker></defs>"##
    );
    if nodes.is_empty() {
        let _ = write!(
            out,
            r##"<text x="{:.0}" y="{:.0}" text-anchor="middle" fill="#6b7280">no probes configured</text></svg>"##,
            width / 2.0,
            height / 2.0
        );
        return out;
    }
    for n in nodes {
        let (x1, y1) = at[n.name.as_str()];
        for dep in &n.depends_on {
            if let Some(&(x2, y2)) = at.get(dep.as_str()) {
                let _ = write!(
                    out,
                    r##"<line class="edge" data-from="{}" data-to="{}" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#6b7280" stroke-width="1.5" marker-end="url(#arrow)"/>"##,
                    escape(&n.name),
                    escape(dep),
                    x1,
                    y1 + box_h / 2.0,
                    x2 + box_w,
                    y2 + box_h / 2.0
                );
            }
        }
    }
    for n in nodes {
        let (x, y) = at[n.name.as_str()];
        let name = escape(&n.name);
        let label: String = if n.name.chars().count() > 22 {
            format!("{}…", n.name.chars().take(21).collect::<String>())
        } else {
            n.name.clone()
        };
        let colour = state_colour(&n.state);
        let _ = write!(
            out,
            r##"<g class="node" data-name="{name}" data-state="{state}"><title>{name}: {state}</title><rect x="{x:.1}" y="{y:.1}" width="{box_w}" height="{box_h}" rx="6" fill="#ffffff" stroke="{colour}" stroke-width="2"/><circle cx="{:.1}" cy="{:.1}" r="5" fill="{colour}"/><text x="{:.1}" y="{:.1}" fill="#111827">{}</text></g>"##,
            x + 14.0,
            y + box_h / 2.0,
            x + 26.0,
            y + box_h / 2.0 + 4.0,
            escape(&label),
            state = escape(&n.state),
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_in_every_text() {
        let chart = Chart {
            title: "<script>alert(1)</script>".into(),
            from: 0,
            to: 60_000_000_000,
            lines: vec![Line {
                label: "a\"b'<c>&".into(),
                points: vec![(0, 1.0), (30_000_000_000, 2.0)],
            }],
            size: DEFAULT_SIZE,
        };
        let svg = line_chart(&chart);
        assert!(!svg.contains("<script"), "{svg}");
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("a&quot;b&#39;&lt;c&gt;&amp;"));
    }

    #[test]
    fn scales_values_into_the_plot() {
        let chart = Chart {
            title: "t".into(),
            from: 0,
            to: 100,
            lines: vec![Line {
                label: "l".into(),
                points: vec![(0, 0.0), (100, 80.0), (50, f64::NAN)],
            }],
            size: DEFAULT_SIZE,
        };
        let svg = line_chart(&chart);
        // 0 sits on the axis at the bottom-left, 80 at the top (the scale ends at 80).
        let (w, h) = (f64::from(DEFAULT_SIZE.0), f64::from(DEFAULT_SIZE.1));
        let bottom = h - BOTTOM;
        assert!(
            svg.contains(&format!(
                "points=\"{LEFT:.1},{bottom:.1} {:.1},{TOP:.1}\"",
                w - RIGHT
            )),
            "{svg}"
        );
        assert!(svg.contains(">80</text>"));
    }

    #[test]
    fn a_range_at_the_end_of_time_does_not_overflow() {
        let svg = line_chart(&Chart {
            title: "t".into(),
            from: u64::MAX,
            to: u64::MAX,
            lines: vec![Line {
                label: "l".into(),
                points: vec![(u64::MAX, 1.0)],
            }],
            size: DEFAULT_SIZE,
        });
        assert!(svg.contains("<circle"), "{svg}");
    }

    #[test]
    fn empty_charts_say_so() {
        let svg = line_chart(&Chart {
            title: "t".into(),
            from: 0,
            to: 1,
            lines: vec![],
            size: DEFAULT_SIZE,
        });
        assert!(svg.contains("no data in this range"));
        assert!(dependency_graph(&[]).contains("no probes configured"));
    }

    #[test]
    fn nice_scales_and_short_numbers() {
        assert_eq!(nice_scale(80.0), (80.0, 20.0));
        assert_eq!(nice_scale(7.0), (8.0, 2.0));
        assert_eq!(nice_scale(0.0), (1.0, 0.25));
        assert_eq!(short_number(1234.0), "1.2k");
        assert_eq!(short_number(3_400_000.0), "3.4M");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(12.0), "12");
    }

    #[test]
    fn dependants_sit_right_of_their_dependencies() {
        let node = |name: &str, state: &str, deps: &[&str]| Node {
            name: name.into(),
            state: state.into(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        };
        let svg = dependency_graph(&[
            node("api", "blocked", &["db"]),
            node("db", "down", &[]),
            node("loop-a", "up", &["loop-b"]),
            node("loop-b", "up", &["loop-a"]),
        ]);
        assert!(
            svg.contains(r#"data-from="api" data-to="db" x1="250.0""#),
            "{svg}"
        );
        assert!(svg.contains(r#"data-name="db" data-state="down""#));
        assert!(svg.contains("#d32f2f"));
    }
}
