//! Start-up mistakes, run as the real binary: each gets one message that
//! names the setting, what is wrong and what to do, and exit code 2; the
//! operator's commands never create a database; the output suits a pipe.

use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::common::*;

/// A run of `minilvb`: exit code, stdout, stderr.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(cli: &Cli, args: &[&str], env: &[(&str, &str)]) -> Run {
    let output = cli
        .command(args, env)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("minilvb runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `minilvb serve` that must refuse to start (exit code 2) with one
/// message containing each of `parts`; returns the message.
fn refused(cli: &Cli, args: &[&str], env: &[(&str, &str)], parts: &[&str]) -> String {
    let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
    all.extend_from_slice(args);
    let run = run(cli, &all, env);
    assert_eq!(run.code, Some(2), "minilvb {all:?} {env:?}: {}", run.stderr);
    let message = run.stderr.trim();
    assert_eq!(message.lines().count(), 1, "not one message: {message}");
    assert!(message.starts_with("minilvb: "), "{message}");
    for part in parts {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
    message.to_owned()
}

/// The URL of the test server for `backend` with another user and database.
fn server_url_with(backend: Backend, user: &str, database: &str) -> String {
    let mut url = url_of(backend);
    url.set_username(user).unwrap();
    url.set_password(None).unwrap();
    url.set_path(&format!("/{database}"));
    url.to_string()
}

fn url_of(backend: Backend) -> reqwest::Url {
    reqwest::Url::parse(&backend.server_url().expect("a server backend")).unwrap()
}

#[test]
fn an_unreachable_database_server_is_named_by_its_address() {
    let cli = Cli::new();
    for url in [
        "postgres://postgres@127.0.0.1:1/minilvb",
        "mysql://root@127.0.0.1:1/minilvb",
    ] {
        let started = Instant::now();
        let message = refused(
            &cli,
            &["--database-url", url],
            &[("MINILVB_DATABASE__ACQUIRE_TIMEOUT_SECS", "2")],
            &[
                "database.url",
                "connection refused at 127.0.0.1:1",
                "start it",
            ],
        );
        assert!(!message.contains("timed out"), "{message}");
        assert_eq!(
            message.matches("connection refused").count(),
            1,
            "{message}"
        );
        // Refusals are retried for the acquire timeout (a database starting
        // alongside), and not much longer.
        let took = started.elapsed();
        assert!(took < Duration::from_secs(10), "{url}: {took:?}");
    }
}

#[tokio::test]
async fn a_wrong_user_or_a_missing_database_is_named_with_the_fix() {
    let cli = Cli::new();
    let mut tried = 0;
    if Backend::Postgres.available().await {
        tried += 1;
        let url = server_url_with(Backend::Postgres, "postgres", "minilvb_no_such_db");
        refused(
            &cli,
            &["--database-url", &url],
            &[],
            &[
                "database minilvb_no_such_db does not exist",
                "createdb -h ",
                " minilvb_no_such_db",
            ],
        );
        let url = server_url_with(Backend::Postgres, "minilvb_no_such_user", "postgres");
        refused(
            &cli,
            &["--database-url", &url],
            &[],
            &["refused user minilvb_no_such_user"],
        );
    }
    if Backend::Mysql.available().await {
        tried += 1;
        let url = server_url_with(Backend::Mysql, "root", "minilvb_no_such_db");
        refused(
            &cli,
            &["--database-url", &url],
            &[],
            &[
                "database minilvb_no_such_db does not exist",
                "CREATE DATABASE minilvb_no_such_db",
            ],
        );
        let url = server_url_with(Backend::Mysql, "minilvb_no_such_user", "minilvb");
        refused(
            &cli,
            &["--database-url", &url],
            &[],
            &["refused user minilvb_no_such_user"],
        );
    }
    if tried == 0 {
        let _ = writeln!(
            std::io::stderr(),
            "startup: no database server here: wrong users and missing databases untested"
        );
    }
}

#[test]
fn mysql_without_a_database_name_is_refused() {
    let cli = Cli::new();
    for url in [
        "mysql://root@127.0.0.1:3306",
        "mysql://root@127.0.0.1:3306/",
    ] {
        refused(
            &cli,
            &["--database-url", url],
            &[],
            &["database.url", "names no database", "CREATE DATABASE"],
        );
    }
}

#[test]
fn a_sqlite_path_that_cannot_work_is_named_with_the_reason() {
    let cli = Cli::new();
    let missing = cli.path("no/such/dir/minilvb.db");
    refused(
        &cli,
        &["--database-url", &format!("sqlite:{}", missing.display())],
        &[],
        &[
            "database.url",
            &format!(
                "directory {} does not exist",
                cli.path("no/such/dir").display()
            ),
        ],
    );
    let dir = cli.path("");
    refused(
        &cli,
        &["--database-url", &format!("sqlite:{}", dir.display())],
        &[],
        &["is a directory"],
    );
}

#[test]
fn a_sqlite_database_in_a_directory_without_write_permission_is_named() {
    use std::os::unix::fs::PermissionsExt;
    let cli = Cli::new();
    let locked = cli.path("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root (and CAP_DAC_OVERRIDE) writes anyway: nothing to test then.
    if std::fs::write(locked.join("probe"), b"").is_ok() {
        // Past libtest's capture, so that the skip shows.
        let _ = writeln!(
            std::io::stderr(),
            "startup: the read-only directory test is skipped: this user writes into \
             read-only directories (root?)"
        );
        return;
    }
    refused(
        &cli,
        &[
            "--database-url",
            &format!("sqlite:{}", locked.join("x.db").display()),
        ],
        &[],
        &[&format!("{}: permission denied", locked.display())],
    );
}

#[test]
fn an_invalid_log_level_is_refused_with_the_valid_ones() {
    let cli = Cli::new();
    let levels = "trace, debug, info, warn, error, off";
    for level in ["verbose", "warning"] {
        refused(
            &cli,
            &[],
            &[("MINILVB_LOG__LEVEL", level)],
            &["log.level", level, levels, "minilvb=debug"],
        );
        refused(&cli, &[], &[("RUST_LOG", level)], &["RUST_LOG", levels]);
    }
    assert!(!cli.path("minilvb.db").exists(), "nothing was started");
}

#[test]
fn a_mistyped_environment_variable_gets_a_warning_and_start_up_goes_on() {
    let cli = Cli::new();
    for (variable, value) in [
        ("MINILVB_SERVER_LISTEN", "127.0.0.1:1"),
        ("MINILVB_SERVER__LISTN", "127.0.0.1:1"),
    ] {
        let env = [(variable, value), ("MINILVB_TEST_ANYTHING", "x")];
        let server = cli.serve(&["--listen", "127.0.0.1:0"], &env);
        let (status, log) = server.terminate();
        assert!(status.success(), "{log:?}");
        let warnings: Vec<&String> = log
            .iter()
            .filter(|l| l.contains("is not a setting"))
            .collect();
        assert_eq!(warnings.len(), 1, "{log:?}");
        assert!(
            warnings[0].contains(variable)
                && warnings[0].contains("did you mean MINILVB_SERVER__LISTEN (server.listen)?"),
            "{warnings:?}"
        );
    }
}

#[test]
fn an_unknown_key_names_its_source_plainly() {
    let cli = Cli::new();
    cli.write("typo.toml", "[server]\nlistn = \"127.0.0.1:1111\"\n");
    let path = cli.path("typo.toml");
    let message = refused(
        &cli,
        &["--config", path.to_str().unwrap()],
        &[],
        &[
            "typo.toml",
            "server.listn is not a setting",
            "did you mean server.listen?",
        ],
    );
    assert!(!message.contains('`'), "{message}");
    let message = refused(
        &cli,
        &[],
        &[("MINILVB_SERVER__MAX_BODY_BYTES", "lots")],
        &["MINILVB_SERVER__MAX_BODY_BYTES", "server.max_body_bytes"],
    );
    assert!(!message.contains("``"), "{message}");
}

#[test]
fn operator_commands_never_create_a_database() {
    let cli = Cli::new();
    let expected = cli.path("minilvb.db");
    for args in [
        &["rooms", "list"][..],
        &["rooms", "show", "vj"],
        &["users", "banned"],
        &["reports", "list"],
        &["recordings", "list"],
        &[
            "import-legacy",
            "--from",
            "mysql://root@127.0.0.1:1/live_demo",
        ],
    ] {
        let run = run(&cli, args, &[]);
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.stderr);
        for part in [
            &format!("no database at {}", expected.display())[..],
            "--database-url",
            "database.url",
            "MINILVB_DATABASE__URL",
        ] {
            assert!(
                run.stderr.contains(part),
                "{args:?}: {:?} lacks {part:?}",
                run.stderr
            );
        }
        assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
        assert!(
            !expected.exists(),
            "{args:?} created {}",
            expected.display()
        );
    }
    let run = run(&cli, &["config"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!expected.exists());
}

#[test]
fn each_command_offers_only_its_own_options() {
    let cli = Cli::new();
    let help = run(&cli, &["rooms", "list", "--help"], &[]);
    assert_eq!(help.code, Some(0));
    assert!(!help.stdout.contains("--listen"), "{}", help.stdout);
    assert!(
        help.stdout.contains("--database-url") && help.stdout.contains("--json"),
        "{}",
        help.stdout
    );
    let help = run(&cli, &["serve", "--help"], &[]);
    assert!(
        help.stdout.contains("--listen") && help.stdout.contains("--log-format"),
        "{}",
        help.stdout
    );
    assert!(!help.stdout.contains("--json"), "{}", help.stdout);
    let misplaced = run(&cli, &["rooms", "list", "--listen", "127.0.0.1:1"], &[]);
    assert_eq!(misplaced.code, Some(2), "{}", misplaced.stderr);
    let misplaced = run(&cli, &["--listen", "127.0.0.1:1", "rooms", "list"], &[]);
    assert_eq!(misplaced.code, Some(2), "{}", misplaced.stderr);
    assert!(
        misplaced.stderr.contains("--listen"),
        "{}",
        misplaced.stderr
    );
}

#[test]
fn start_up_through_a_pipe_is_plain_and_tells_a_newcomer_what_they_need() {
    use std::io::BufRead;
    let cli = Cli::new();
    let mut child = cli
        .command(
            &["serve", "--listen", "127.0.0.1:0"],
            &[("MINILVB_METRICS__LISTEN", "127.0.0.1:0")],
        )
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("minilvb starts");
    let stderr = child.stderr.take().unwrap();
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
    {
        let serving = line.contains("minilvb serving");
        lines.push(line);
        if serving {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = lines.join("\n");
    assert!(!text.contains('\x1b'), "colours through a pipe: {text:?}");
    assert!(text.contains("RUNNING ON DEMO VALUES"), "{text}");
    let serving = lines.last().expect("a line");
    for part in [
        "minilvb serving",
        "address=127.0.0.1:",
        "database=sqlite:minilvb.db",
        "/metrics",
    ] {
        assert!(serving.contains(part), "{serving:?} lacks {part:?}");
    }
    // A new database's routine set-up is no news.
    assert!(!text.contains("level index"), "{text}");
    // Where moderation acts (no cloud API keys here), the demo warning,
    // the address: nothing else.
    assert!(
        text.contains("moderation acts on the database only"),
        "{text}"
    );
    assert_eq!(
        lines.len(),
        3,
        "more than where moderation acts, the warning and the address: {text}"
    );
}
