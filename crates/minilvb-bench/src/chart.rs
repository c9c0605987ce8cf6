//! The sweep as an SVG chart, written by hand: throughput (top) and p99
//! latency (bottom) against the number of connections, for `mixed` and
//! `baseline`; every axis logarithmic.

use std::fmt::Write as _;

use super::SweepPoint;

const WIDTH: f64 = 760.0;
const PANEL: f64 = 230.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 50.0;
const GAP: f64 = 60.0;

const MIXED: &str = "#1f77b4";
const BASELINE: &str = "#7f7f7f";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One line of a panel.
struct Series<'a> {
    name: &'a str,
    colour: &'a str,
    dashed: bool,
    values: Vec<f64>,
}

/// Renders the chart; `title` goes on top (machine, backend, load).
pub fn render(points: &[SweepPoint], title: &str) -> String {
    let mut svg = String::new();
    let height = TOP + 2.0 * PANEL + GAP + 60.0;
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{}" y="24" font-size="14" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    if points.is_empty() {
        svg.push_str("</svg>\n");
        return svg;
    }
    let connections: Vec<f64> = points.iter().map(|p| p.connections.max(1) as f64).collect();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let bottom = TOP + PANEL + GAP;
    panel(
        &mut svg,
        TOP,
        "requests / s",
        &connections,
        &[
            Series {
                name: "baseline",
                colour: BASELINE,
                dashed: true,
                values: points.iter().map(|p| p.baseline_rps).collect(),
            },
            Series {
                name: "mixed",
                colour: MIXED,
                dashed: false,
                values: points.iter().map(|p| p.mixed_rps).collect(),
            },
        ],
    );
    panel(
        &mut svg,
        bottom,
        "p99 latency, ms",
        &connections,
        &[
            Series {
                name: "baseline",
                colour: BASELINE,
                dashed: true,
                values: points.iter().map(|p| ms(p.baseline_p99)).collect(),
            },
            Series {
                name: "mixed",
                colour: MIXED,
                dashed: false,
                values: points.iter().map(|p| ms(p.mixed_p99)).collect(),
            },
        ],
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">connections</text>"#,
        LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        bottom + PANEL + 36.0
    );
    svg.push_str("</svg>\n");
    svg
}

/// A panel at `top`: both axes logarithmic, gridlines at 1, 2 and 5 times
/// the powers of ten, the connection counts along the bottom.
fn panel(svg: &mut String, top: f64, label: &str, connections: &[f64], series: &[Series<'_>]) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let (x_lo, x_hi) = (
        connections.iter().cloned().fold(f64::MAX, f64::min).log2(),
        connections.iter().cloned().fold(0.0, f64::max).log2(),
    );
    let x = |c: f64| LEFT + (c.log2() - x_lo) / (x_hi - x_lo).max(1e-9) * plot_w;
    let values = series
        .iter()
        .flat_map(|s| s.values.iter().map(|v| v.max(1e-3)));
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = (
        lo.log10().floor(),
        hi.log10().ceil().max(lo.log10().floor() + 1.0),
    );
    let y = |v: f64| top + PANEL - (v.max(1e-3).log10() - lo) / (hi - lo) * PANEL;
    axes(svg, top, plot_w, label);
    let mut decade = lo;
    while decade < hi + 0.5 {
        for (m, labelled) in [(1.0, true), (2.0, false), (5.0, false)] {
            let v = m * 10f64.powf(decade);
            if v.log10() <= hi + 1e-9 {
                gridline(svg, y(v), plot_w, &number(v), labelled);
            }
        }
        decade += 1.0;
    }
    for s in series {
        let points: Vec<(f64, f64)> = connections
            .iter()
            .zip(&s.values)
            .map(|(&c, &v)| (x(c), y(v)))
            .collect();
        line(svg, &points, s.colour, s.dashed);
    }
    let entries: Vec<(&str, &str, bool)> = series
        .iter()
        .map(|s| (s.name, s.colour, s.dashed))
        .collect();
    legend(svg, top + 10.0, &entries);
    for &c in connections {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{c}</text>"#,
            x(c),
            top + PANEL + 16.0
        );
    }
}

/// A tick label: 0.1, 2, 50, 1000, 20k.
fn number(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 1.0 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}

fn axes(svg: &mut String, top: f64, plot_w: f64, label: &str) {
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL}" fill="none" stroke="#333"/><text transform="translate(22 {:.1}) rotate(-90)" text-anchor="middle">{label}</text>"##,
        top + PANEL / 2.0
    );
}

fn gridline(svg: &mut String, y: f64, plot_w: f64, label: &str, strong: bool) {
    let (stroke, weight) = if strong {
        ("#ccc", "normal")
    } else {
        ("#eee", "lighter")
    };
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{stroke}"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-weight="{weight}" fill="#444">{label}</text>"##,
        LEFT + plot_w,
        LEFT - 6.0,
        y + 4.0
    );
}

fn line(svg: &mut String, points: &[(f64, f64)], colour: &str, dashed: bool) {
    let path: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    let dash = if dashed {
        r#" stroke-dasharray="6 4""#
    } else {
        ""
    };
    let _ = writeln!(
        svg,
        r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"#,
        path.join(" ")
    );
    for (x, y) in points {
        let _ = writeln!(
            svg,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{colour}"/>"#
        );
    }
}

fn legend(svg: &mut String, top: f64, entries: &[(&str, &str, bool)]) {
    let x = WIDTH - RIGHT + 15.0;
    for (i, (name, colour, dashed)) in entries.iter().enumerate() {
        let y = top + 18.0 * i as f64;
        let dash = if *dashed {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            r#"<line x1="{x}" y1="{y}" x2="{}" y2="{y}" stroke="{colour}" stroke-width="2"{dash}/><text x="{}" y="{}">{name}</text>"#,
            x + 24.0,
            x + 30.0,
            y + 4.0
        );
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn renders_a_well_formed_svg() {
        let points: Vec<SweepPoint> = [1, 4, 16, 64]
            .iter()
            .map(|&c| SweepPoint {
                connections: c,
                baseline_rps: 1000.0 * c as f64,
                baseline_p99: Duration::from_micros(100 * c as u64),
                mixed_rps: 500.0 * c as f64,
                mixed_p99: Duration::from_micros(300 * c as u64),
                errors: 0,
                others_cpu: None,
            })
            .collect();
        let svg = render(&points, "a <test>");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("a &lt;test&gt;"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert_eq!(number(20_000.0), "20k");
        assert_eq!(number(0.5), "0.5");
    }
}
