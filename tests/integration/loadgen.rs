//! The load generator's smoke run: every scenario for a fraction of a second
//! with tiny sizes, so that it cannot rot. It checks that the run completes
//! with no unexpected answer and that the exactness checks pass; it never
//! looks at how fast anything was.

use minilvb::loadgen::{self, Config};

#[test]
fn every_scenario_runs_and_its_counts_are_exact() {
    let config = Config::smoke();
    let report = loadgen::run(&config).expect("the load generator runs");
    let text = loadgen::report::text(&report);
    println!("{text}");
    assert_eq!(report.scenarios.len(), 5, "{text}");
    for scenario in &report.scenarios {
        assert!(
            scenario.peak.stats.total().latency.count() > 0,
            "{} sent nothing:\n{text}",
            scenario.kind
        );
        assert!(scenario.half.is_some(), "{text}");
        assert_eq!(scenario.peak.errors(), 0, "{text}");
    }
    for kind in ["likes", "churn", "mixed", "list"] {
        let scenario = report
            .scenarios
            .iter()
            .find(|s| s.kind.name() == kind)
            .expect("every scenario reported");
        assert!(
            !scenario.checks.is_empty(),
            "{kind} checks nothing:\n{text}"
        );
    }
    assert!(report.scale.is_some(), "{text}");
    assert_eq!(report.sweep.len(), 2, "{text}");
    assert!(report.passed(), "{text}");
    // The report's renderings work on a real run.
    assert!(loadgen::report::markdown(&report).contains("| mixed |"));
    assert!(loadgen::chart::render(&report.sweep, "smoke").contains("<polyline"));
}
