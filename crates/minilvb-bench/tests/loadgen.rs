//! The load generator's smoke run: every scenario for a fraction of a second
//! with tiny sizes, on every backend, so that it cannot rot. It checks that
//! the run completes with no unexpected answer and that the exactness checks
//! pass; it never looks at how fast anything was.

use minilvb_bench::{Config, ScenarioKind};
use minilvb_test_databases::Backend;

fn smoke(config: Config) {
    let report = minilvb_bench::run(&config).expect("the load generator runs");
    let text = minilvb_bench::report::text(&report);
    println!("{text}");
    let expected = config
        .scenarios
        .iter()
        .filter(|k| **k != ScenarioKind::Scale)
        .count();
    assert_eq!(report.scenarios.len(), expected, "{text}");
    for scenario in &report.scenarios {
        assert!(
            scenario.peak.stats.total().latency.count() > 0,
            "{} sent nothing:\n{text}",
            scenario.kind
        );
        assert!(scenario.half.is_some(), "{text}");
        if scenario.kind != ScenarioKind::Baseline {
            assert!(
                !scenario.checks.is_empty(),
                "{} checks nothing:\n{text}",
                scenario.kind
            );
        }
    }
    assert!(report.scale.is_some(), "{text}");
    assert_eq!(report.sweep.len(), config.sweep.len(), "{text}");
    assert!(report.passed(), "{text}");
    // The renderings work on a real run.
    assert!(minilvb_bench::report::markdown(&report).contains("| mixed |"));
    if !report.sweep.is_empty() {
        assert!(minilvb_bench::chart::render(&report.sweep, "smoke").contains("<polyline"));
    }
}

#[test]
fn every_scenario_on_sqlite() {
    smoke(Config::smoke());
}

/// On a server backend: each scenario on a database of its own, created on
/// the test server and dropped afterwards; no sweep (its two scenarios run
/// anyway).
fn on_server(backend: Backend) {
    let available = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(backend.available());
    if !available {
        return;
    }
    smoke(Config {
        database_url: backend.server_url(),
        sweep: Vec::new(),
        ..Config::smoke()
    });
}

#[test]
fn every_scenario_on_postgres() {
    on_server(Backend::Postgres);
}

#[test]
fn every_scenario_on_mysql() {
    on_server(Backend::Mysql);
}
