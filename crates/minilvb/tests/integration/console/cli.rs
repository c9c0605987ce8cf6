//! `minilvb operators` and a console served by the binary itself: what an
//! operator needs is `minilvb operators add` and `MINILVB_ADMIN__LISTEN`.

use std::io::Write as _;
use std::process::Stdio;

use minilvb_store::{DatabaseSettings, Store};
use serde_json::Value;

use super::*;

/// Runs `minilvb ARGS` with `input` on standard input; (success, stdout, stderr).
fn run_with_input(cli: &Cli, args: &[&str], input: &str) -> (bool, String, String) {
    let mut child = cli
        .command(args, &[("USER", "ops-person")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("minilvb runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("the input written");
    let output = child.wait_with_output().expect("minilvb exits");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn open_store(cli: &Cli) -> std::sync::Arc<dyn Store> {
    let settings = DatabaseSettings {
        url: format!("sqlite:{}", cli.path("minilvb.db").display()),
        list_snapshot_ms: 0,
        ..Default::default()
    };
    minilvb_store::connect(&settings, None)
        .await
        .expect("the database")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_are_added_listed_given_a_new_password_and_removed_from_the_command_line() {
    let cli = Cli::new();
    // The server's database, as its first start leaves it: the operator's
    // commands never create one.
    assert!(cli.run(&["migrate"], &[]).0, "migrate");
    let add = |name: &str, role: &str, password: &str| {
        run_with_input(
            &cli,
            &["operators", "add", name, "--role", role, "--password-stdin"],
            &format!("{password}\n"),
        )
    };
    let (ok, stdout, stderr) = add("root", "admin", "root-password-1");
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "operator root added as admin\n");
    assert!(add("mia", "moderator", "mia-password-1").0);

    let (ok, stdout, stderr) = cli.run(&["operators", "list", "--json"], &[]);
    assert!(ok, "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    let roles: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["name"].as_str().unwrap(), o["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, [("mia", "moderator"), ("root", "admin")]);
    let (_, table, _) = cli.run(&["operators", "list"], &[]);
    assert!(
        table.starts_with("NAME") && table.contains("moderator"),
        "{table}"
    );

    let (ok, stdout, stderr) = run_with_input(
        &cli,
        &["operators", "passwd", "mia", "--password-stdin"],
        "another-password-2\r\n",
    );
    assert!(ok, "{stderr}");
    assert!(stdout.contains("password of mia changed"), "{stdout}");
    let store = open_store(&cli).await;
    let hash = store.operator("mia").await.unwrap().unwrap().password_hash;
    assert!(minilvb_console::verify_password("another-password-2", &hash).unwrap());

    let user = [("USER", "ops-person")];
    let (ok, stdout, _) = cli.run(&["operators", "remove", "mia"], &user);
    assert!(ok && stdout.contains("operator mia removed"), "{stdout}");
    let (ok, _, stderr) = cli.run(&["operators", "remove", "root"], &user);
    assert!(!ok && stderr.contains("root is the last admin"), "{stderr}");
    assert!(
        !stderr.contains("ERROR"),
        "an operator's mistake is no error log: {stderr}"
    );
    let (ok, _, stderr) = cli.run(&["operators", "remove", "nobody"], &[]);
    assert!(
        !ok && stderr.contains("no operator named nobody"),
        "{stderr}"
    );

    // Each change is in the audit log, as the Unix user who made it.
    let (_, entries) = store.audit_log(0, 100).await.unwrap();
    let done: Vec<(&str, &str, &str)> = entries
        .iter()
        .rev()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_str()))
        .collect();
    assert_eq!(
        done,
        [
            ("cli:ops-person", "add_operator", "root"),
            ("cli:ops-person", "add_operator", "mia"),
            ("cli:ops-person", "set_password", "mia"),
            ("cli:ops-person", "remove_operator", "mia"),
            ("cli:ops-person", "remove_operator", "root"),
        ]
    );
    assert!(
        entries[0].outcome.starts_with("failed: "),
        "{}",
        entries[0].outcome
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_password_a_bad_name_or_a_taken_name_is_refused() {
    let cli = Cli::new();
    // The server's database, as its first start leaves it: the operator's
    // commands never create one.
    assert!(cli.run(&["migrate"], &[]).0, "migrate");
    let add = |name: &str, password: &str| {
        run_with_input(
            &cli,
            &[
                "operators",
                "add",
                name,
                "--role",
                "viewer",
                "--password-stdin",
            ],
            password,
        )
    };
    let (ok, _, stderr) = add("vic", "short\n");
    assert!(!ok && stderr.contains("at least 10 characters"), "{stderr}");
    let (ok, _, stderr) = add("vic", "");
    assert!(!ok && stderr.contains("at least 10 characters"), "{stderr}");
    let (ok, _, stderr) = add("vic", "first-line-1\nsecond-line\n");
    assert!(!ok && stderr.contains("more than one line"), "{stderr}");
    let (ok, _, stderr) = add("two words", "long-enough-1\n");
    assert!(!ok && stderr.contains("letters, digits"), "{stderr}");
    assert!(add("vic", "long-enough-1\n").0);
    let (ok, _, stderr) = add("vic", "long-enough-2\n");
    assert!(!ok && stderr.contains("exists already"), "{stderr}");
    let (ok, _, stderr) = cli.run(&["operators", "add", "x", "--role", "owner"], &[]);
    assert!(!ok && stderr.contains("owner"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_added_on_the_command_line_signs_in_to_the_console_the_binary_serves() {
    let cli = Cli::new();
    // The server's database, as its first start leaves it: the operator's
    // commands never create one.
    assert!(cli.run(&["migrate"], &[]).0, "migrate");
    let (ok, _, stderr) = run_with_input(
        &cli,
        &[
            "operators",
            "add",
            "root",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "root-password-1\n",
    );
    assert!(ok, "{stderr}");
    let mut server = cli.serve(
        &["--listen", "127.0.0.1:0"],
        &[("MINILVB_ADMIN__LISTEN", "127.0.0.1:0")],
    );
    let line = server.wait_for_log("web console serving");
    let url = line["url"].as_str().expect("the console's URL").to_owned();
    assert!(url.starts_with("http://127.0.0.1:") && url != format!("http://{}/", server.addr));

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client.get(format!("{url}login")).send().await.unwrap();
    let login_cookie = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let page = Answer {
        status: form.status(),
        headers: form.headers().clone(),
        body: form.text().await.unwrap(),
    };
    let origin = url.trim_end_matches('/').to_owned();
    let signed_in = client
        .post(format!("{url}login"))
        .header("cookie", login_cookie)
        .header("origin", origin)
        .form(&[
            ("csrf", page.csrf().as_str()),
            ("username", "root"),
            ("password", "root-password-1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let (status, log) = server.terminate();
    assert!(status.success(), "{log:?}");
}

#[test]
fn a_console_on_the_apps_port_is_refused_before_anything_starts() {
    let cli = Cli::new();
    let stderr = cli.fails_naming(
        &["--listen", "127.0.0.1:18080", "config"],
        &[("MINILVB_ADMIN__LISTEN", "127.0.0.1:18080")],
        "admin.listen",
    );
    assert!(stderr.contains("the apps' port"), "{stderr}");
    cli.fails_naming(
        &["config"],
        &[("MINILVB_ADMIN__BASE_PATH", "admin/")],
        "admin.base_path",
    );
    let (table, _) = cli.config(&[], &[("MINILVB_ADMIN__LISTEN", "127.0.0.1:8081")]);
    assert_eq!(setting(&table, "admin.listen"), "127.0.0.1:8081");
    assert_eq!(setting(&table, "admin.secure_cookies"), "auto");
}
