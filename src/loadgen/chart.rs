//! The sweep as an SVG chart, written by hand: throughput (top) and p99
//! latency (bottom, logarithmic) against the number of connections
//! (logarithmic), for `mixed` and `baseline`.

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

/// A round step for about five ticks up to `max`.
fn step(max: f64) -> f64 {
    let raw = max / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders the chart; `title` goes on top (machine, backend, load).
pub fn render(points: &[SweepPoint], title: &str) -> String {
    let mut svg = String::new();
    let height = TOP + 2.0 * PANEL + GAP + 60.0;
    let plot_w = WIDTH - LEFT - RIGHT;
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
    let conns: Vec<f64> = points.iter().map(|p| p.connections.max(1) as f64).collect();
    let (x_lo, x_hi) = (
        conns.iter().cloned().fold(f64::MAX, f64::min).log2(),
        conns.iter().cloned().fold(0.0, f64::max).log2(),
    );
    let x = |c: f64| {
        let span = (x_hi - x_lo).max(1e-9);
        LEFT + (c.log2() - x_lo) / span * plot_w
    };

    // Top panel: throughput, linear from 0.
    let top = TOP;
    let max_rps = points
        .iter()
        .map(|p| p.baseline_rps.max(p.mixed_rps))
        .fold(1.0, f64::max);
    let rps_step = step(max_rps);
    let rps_hi = (max_rps / rps_step).ceil() * rps_step;
    let y_rps = |v: f64| top + PANEL - v / rps_hi * PANEL;
    axes(&mut svg, top, plot_w, "requests / s");
    let mut tick = 0.0;
    while tick <= rps_hi + 1e-9 {
        gridline(&mut svg, y_rps(tick), plot_w, &format!("{tick:.0}"));
        tick += rps_step;
    }
    let series = |f: &dyn Fn(&SweepPoint) -> f64, y: &dyn Fn(f64) -> f64| -> Vec<(f64, f64)> {
        points
            .iter()
            .map(|p| (x(p.connections.max(1) as f64), y(f(p))))
            .collect()
    };
    line(
        &mut svg,
        &series(&|p| p.baseline_rps, &y_rps),
        BASELINE,
        true,
    );
    line(&mut svg, &series(&|p| p.mixed_rps, &y_rps), MIXED, false);
    legend(
        &mut svg,
        top + 10.0,
        &[("baseline", BASELINE, true), ("mixed", MIXED, false)],
    );

    // Bottom panel: p99 in ms, logarithmic over whole decades.
    let bottom = TOP + PANEL + GAP;
    let p99s: Vec<f64> = points
        .iter()
        .flat_map(|p| [p.baseline_p99, p.mixed_p99])
        .map(|d| (d.as_secs_f64() * 1000.0).max(0.01))
        .collect();
    let lo = p99s
        .iter()
        .cloned()
        .fold(f64::MAX, f64::min)
        .log10()
        .floor();
    let hi = p99s
        .iter()
        .cloned()
        .fold(0.0, f64::max)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let y_ms = |v: f64| bottom + PANEL - (v.max(0.01).log10() - lo) / (hi - lo) * PANEL;
    axes(&mut svg, bottom, plot_w, "p99 latency, ms");
    let mut decade = lo;
    while decade <= hi + 1e-9 {
        let v = 10f64.powf(decade);
        let label = if v >= 1.0 {
            format!("{v:.0}")
        } else {
            format!("{v}")
        };
        gridline(&mut svg, y_ms(v), plot_w, &label);
        decade += 1.0;
    }
    let to_ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    line(
        &mut svg,
        &series(&|p| to_ms(p.baseline_p99), &y_ms),
        BASELINE,
        true,
    );
    line(
        &mut svg,
        &series(&|p| to_ms(p.mixed_p99), &y_ms),
        MIXED,
        false,
    );
    legend(
        &mut svg,
        bottom + 10.0,
        &[("baseline", BASELINE, true), ("mixed", MIXED, false)],
    );

    // Connection counts along both panels' x axes.
    for p in points {
        let cx = x(p.connections.max(1) as f64);
        for panel in [top, bottom] {
            let _ = writeln!(
                svg,
                r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                panel + PANEL + 16.0,
                p.connections
            );
        }
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">connections</text>"#,
        LEFT + plot_w / 2.0,
        bottom + PANEL + 36.0
    );
    svg.push_str("</svg>\n");
    svg
}

fn axes(svg: &mut String, top: f64, plot_w: f64, label: &str) {
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL}" fill="none" stroke="#333"/><text transform="translate(22 {:.1}) rotate(-90)" text-anchor="middle">{label}</text>"##,
        top + PANEL / 2.0
    );
}

fn gridline(svg: &mut String, y: f64, plot_w: f64, label: &str) {
    let _ = writeln!(
        svg,
        r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"##,
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
            })
            .collect();
        let svg = render(&points, "a <test>");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("a &lt;test&gt;"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert_eq!(step(7300.0), 2000.0);
    }
}
