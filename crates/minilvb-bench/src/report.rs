//! The reports: plain text for a terminal, Markdown for `docs/BENCHMARKS.md`.

use std::fmt::Write as _;
use std::time::Duration;

use super::stats::{Memory, OpStats};
use super::{Check, PhaseReport, RunReport, ScaleReport, ScenarioKind, ScenarioReport, SweepPoint};

/// A latency in milliseconds, with the digits that matter.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

fn mib(memory: &Option<Memory>) -> String {
    memory.map_or_else(
        || "?".into(),
        |m| format!("{:.0}", m.peak_kib as f64 / 1024.0),
    )
}

fn row(name: &str, rps: f64, op: &OpStats) -> String {
    let h = &op.latency;
    format!(
        "  {name:<28} {rps:>9.0} {:>8} {:>8} {:>8} {:>8} {:>7}",
        ms(h.quantile(0.5)),
        ms(h.quantile(0.9)),
        ms(h.quantile(0.99)),
        ms(h.max()),
        op.errors()
    )
}

fn phase_text(out: &mut String, ops: &[&str], phase: &PhaseReport) {
    let _ = writeln!(
        out,
        "  {:<28} {:>9} {:>8} {:>8} {:>8} {:>8} {:>7}",
        "operation", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    for (i, name) in ops.iter().enumerate() {
        let _ = writeln!(out, "{}", row(name, phase.op_rps(i), &phase.stats.ops[i]));
    }
    let _ = writeln!(out, "{}", row("all", phase.rps(), &phase.stats.total()));
    for sample in &phase.stats.samples {
        let _ = writeln!(out, "  error: {sample}");
    }
}

fn checks_text(out: &mut String, checks: &[Check]) {
    for check in checks {
        let verdict = if check.passed() { "ok" } else { "FAILED" };
        let _ = write!(out, "  check: {}: {verdict}", check.what);
        if check.ambiguous > 0 {
            let _ = write!(out, " (allowing for {} unanswered writes)", check.ambiguous);
        }
        let _ = writeln!(out);
        for problem in check.problems.iter().take(10) {
            let _ = writeln!(out, "    {problem}");
        }
    }
}

pub fn scenario_text(s: &ScenarioReport) -> String {
    let mut out = String::new();
    let fraction = match (s.fraction(), s.baseline) {
        (Some(f), Some(b)) if s.kind != ScenarioKind::Baseline => format!(
            ", {f:.2} of baseline ({:.0} before, {:.0} after{})",
            b.before,
            b.after,
            if b.steady() {
                ""
            } else {
                ": the machine's speed changed, compare with care"
            }
        ),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "== {} ({} connections): {:.0} req/s{fraction}; seeded in {:.1} s; peak RSS {} MiB; other processes took {} % of the CPUs",
        s.kind,
        s.peak.connections,
        s.peak.rps(),
        s.seed_time.as_secs_f64(),
        mib(&s.memory),
        others(&[Some(&s.peak), s.half.as_ref()])
    );
    phase_text(&mut out, s.ops, &s.peak);
    if let Some(half) = &s.half {
        let _ = writeln!(
            out,
            "  at half of peak ({:.0} req/s offered): {:.0} req/s, p99 {} ms from when due, {} ms from the send",
            half.rate.unwrap_or_default(),
            half.rps(),
            ms(half.stats.total().latency.quantile(0.99)),
            ms(half.stats.total().service.quantile(0.99))
        );
        phase_text(&mut out, s.ops, half);
    }
    checks_text(&mut out, &s.checks);
    out
}

pub fn scale_text(s: &ScaleReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "== scale: page-1 latency, one connection, at {} and at {} online rooms and members of one room (seeded in {:.1} s; peak RSS {} MiB; other processes took {} % of the CPUs)",
        s.small,
        s.large,
        s.seed_time.as_secs_f64(),
        mib(&s.memory),
        others(&[Some(&s.small_phase), Some(&s.large_phase)])
    );
    let _ = writeln!(
        out,
        "  {:<28} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "operation",
        format!("p50@{}", s.small),
        format!("p99@{}", s.small),
        format!("p50@{}", s.large),
        format!("p99@{}", s.large),
        "p50 x"
    );
    for i in 0..s.ops.len() {
        let c = scale_cells(s, i);
        let _ = writeln!(
            out,
            "  {:<28} {:>10} {:>10} {:>10} {:>10} {:>8}",
            c[0], c[1], c[2], c[3], c[4], c[5]
        );
    }
    for phase in [&s.small_phase, &s.large_phase] {
        for sample in &phase.stats.samples {
            let _ = writeln!(out, "  error: {sample}");
        }
    }
    checks_text(&mut out, &s.checks);
    out
}

/// One operation of `scale`: name, p50 and p99 small, p50 and p99 large, p50 ratio.
fn scale_cells(s: &ScaleReport, op: usize) -> [String; 6] {
    let (a, b) = (
        &s.small_phase.stats.ops[op].latency,
        &s.large_phase.stats.ops[op].latency,
    );
    [
        s.ops[op].to_owned(),
        ms(a.quantile(0.5)),
        ms(a.quantile(0.99)),
        ms(b.quantile(0.5)),
        ms(b.quantile(0.99)),
        format!("{:.1}", ratio(b.quantile(0.5), a.quantile(0.5))),
    ]
}

/// One sweep point: connections, baseline req/s and p99, mixed req/s and
/// p99, fraction, others' CPU.
fn sweep_cells(p: &SweepPoint) -> [String; 7] {
    [
        p.connections.to_string(),
        format!("{:.0}", p.baseline_rps),
        ms(p.baseline_p99),
        format!("{:.0}", p.mixed_rps),
        ms(p.mixed_p99),
        format!("{:.2}", p.mixed_rps / p.baseline_rps.max(1e-9)),
        p.others_cpu
            .map_or("?".into(), |share| format!("{:.0}", share * 100.0)),
    ]
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

/// The whole run as text.
pub fn text(report: &RunReport) -> String {
    let mut out = String::new();
    for s in &report.scenarios {
        out.push_str(&scenario_text(s));
        out.push('\n');
    }
    if let Some(scale) = &report.scale {
        out.push_str(&scale_text(scale));
        out.push('\n');
    }
    if !report.sweep.is_empty() {
        let _ = writeln!(
            out,
            "== sweep: baseline and mixed against connections\n  {:>11} {:>13} {:>13} {:>11} {:>11} {:>9} {:>8}",
            "connections",
            "baseline r/s",
            "baseline p99",
            "mixed r/s",
            "mixed p99",
            "fraction",
            "others%"
        );
        for p in &report.sweep {
            let c = sweep_cells(p);
            let _ = writeln!(
                out,
                "  {:>11} {:>13} {:>13} {:>11} {:>11} {:>9} {:>8}",
                c[0], c[1], c[2], c[3], c[4], c[5], c[6]
            );
        }
        checks_text(&mut out, &report.sweep_checks);
        out.push('\n');
    }
    out.push_str(&summary_text(report));
    out
}

/// The machine, the backend and how the run was made, with the load.
fn conditions(report: &RunReport) -> String {
    format!(
        "{}; backend {}, {} connections, {} s per phase after {} s of warm-up, client {} thread(s), server {} thread(s); load average {} before, {} after",
        report.machine,
        report.target.as_deref().unwrap_or(&report.backend),
        report.connections,
        report.duration.as_secs_f64(),
        report.warmup.as_secs_f64(),
        report.client_threads,
        report.server_threads,
        report.load_before,
        report.load_after
    )
}

fn summary_text(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "== summary: {}", conditions(report));
    let _ = writeln!(
        out,
        "  {:<9} {:>9} {:>15} {:>15} {:>7} {:>7} {:>7} {:>7} {:>7} {:>13} {:>8} {:>7} {:>7}",
        "scenario",
        "req/s",
        "of baseline",
        "base bef/aft",
        "p50",
        "p90",
        "p99",
        "max",
        "errors",
        "p99@half(svc)",
        "RSS MiB",
        "checks",
        "others%"
    );
    for s in &report.scenarios {
        let c = summary_cells(s);
        let _ = writeln!(
            out,
            "  {:<9} {:>9} {:>15} {:>15} {:>7} {:>7} {:>7} {:>7} {:>7} {:>13} {:>8} {:>7} {:>7}",
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12]
        );
    }
    let _ = writeln!(
        out,
        "  {}",
        if report.passed() {
            "PASSED: no unexpected answers, every check exact"
        } else {
            "FAILED: see the errors and checks above"
        }
    );
    out
}

/// The most other processes took of the CPUs during the phases, in percent.
fn others(phases: &[Option<&PhaseReport>]) -> String {
    phases
        .iter()
        .flatten()
        .filter_map(|p| p.others_cpu)
        .reduce(f64::max)
        .map_or("?".into(), |share| format!("{:.0}", share * 100.0))
}

/// One scenario's summary: name, req/s, fraction of baseline, the baseline
/// before and after it, p50, p90, p99, max, errors, p99 at half peak, peak
/// RSS, checks, others' CPU.
fn summary_cells(s: &ScenarioReport) -> [String; 13] {
    let total = s.peak.stats.total();
    let h = &total.latency;
    [
        s.kind.name().to_owned(),
        format!("{:.0}", s.peak.rps()),
        match (s.fraction(), s.baseline) {
            (Some(f), Some(b)) if !b.steady() => format!("{f:.2} (unsteady)"),
            (Some(f), _) => format!("{f:.2}"),
            _ => "-".into(),
        },
        s.baseline
            .filter(|_| s.kind != ScenarioKind::Baseline)
            .map_or("-".into(), |b| format!("{:.0} / {:.0}", b.before, b.after)),
        ms(h.quantile(0.5)),
        ms(h.quantile(0.9)),
        ms(h.quantile(0.99)),
        ms(h.max()),
        (total.errors() + s.half.as_ref().map_or(0, PhaseReport::errors)).to_string(),
        half_p99(s.half.as_ref().map(|p| p.stats.total())),
        mib(&s.memory),
        checks_verdict(&s.checks).to_owned(),
        others(&[Some(&s.peak), s.half.as_ref()]),
    ]
}

/// The p99 at half of the peak, from when due and (in brackets) from the send.
fn half_p99(op: Option<OpStats>) -> String {
    op.map_or("-".into(), |op| {
        format!(
            "{} ({})",
            ms(op.latency.quantile(0.99)),
            ms(op.service.quantile(0.99))
        )
    })
}

fn checks_verdict(checks: &[Check]) -> &'static str {
    if checks.is_empty() {
        "-"
    } else if checks.iter().all(Check::passed) {
        "ok"
    } else {
        "FAILED"
    }
}

/// The run as Markdown: the summary table, then each scenario's operations.
pub fn markdown(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}.\n", conditions(report));
    let _ = writeln!(
        out,
        "| scenario | req/s | of baseline | baseline before / after | p50 ms | p90 ms | p99 ms | max ms | errors | p99 ms at half peak (from the send) | peak RSS MiB | checks | other processes' CPU % |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
    );
    for s in &report.scenarios {
        let _ = writeln!(out, "| {} |", summary_cells(s).join(" | "));
    }
    for s in &report.scenarios {
        let _ = writeln!(
            out,
            "\n**{}** (seeded in {:.1} s)\n\n| operation | req/s | p50 ms | p90 ms | p99 ms | max ms | p99 ms at half peak (from the send) | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|",
            s.kind,
            s.seed_time.as_secs_f64()
        );
        for (i, name) in s.ops.iter().enumerate() {
            let op = &s.peak.stats.ops[i];
            let h = &op.latency;
            let _ = writeln!(
                out,
                "| {name} | {:.0} | {} | {} | {} | {} | {} | {} |",
                s.peak.op_rps(i),
                ms(h.quantile(0.5)),
                ms(h.quantile(0.9)),
                ms(h.quantile(0.99)),
                ms(h.max()),
                half_p99(s.half.as_ref().map(|p| p.stats.ops[i].clone())),
                op.errors()
            );
        }
        for check in &s.checks {
            let _ = writeln!(
                out,
                "\n- check: {}: {}",
                check.what,
                if check.passed() { "exact" } else { "FAILED" }
            );
        }
    }
    if let Some(s) = &report.scale {
        let _ = writeln!(
            out,
            "\n**scale**: page-1 latency, one connection, at {} and at {} online rooms and members of one room\n\n| operation | p50 ms @{} | p99 ms @{} | p50 ms @{} | p99 ms @{} | p50 ratio |\n|---|---:|---:|---:|---:|---:|",
            s.small, s.large, s.small, s.small, s.large, s.large
        );
        for i in 0..s.ops.len() {
            let _ = writeln!(out, "| {} |", scale_cells(s, i).join(" | "));
        }
        let _ = writeln!(
            out,
            "\nPeak RSS during scale: {} MiB; other processes took up to {} % of the CPUs.",
            mib(&s.memory),
            others(&[Some(&s.small_phase), Some(&s.large_phase)])
        );
    }
    if !report.sweep.is_empty() {
        let _ = writeln!(
            out,
            "\n**sweep**\n\n| connections | baseline req/s | baseline p99 ms | mixed req/s | mixed p99 ms | mixed of baseline | other processes' CPU % |\n|---:|---:|---:|---:|---:|---:|---:|"
        );
        for p in &report.sweep {
            let _ = writeln!(out, "| {} |", sweep_cells(p).join(" | "));
        }
    }
    out
}
