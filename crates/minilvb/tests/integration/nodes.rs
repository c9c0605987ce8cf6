//! Real `minilvb` processes (the built binary), for tests of several nodes
//! on one database.
#![allow(dead_code)]

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A `minilvb serve` process, killed when dropped.
pub struct Node {
    pub base: String,
    /// The node's log lines (JSON) since it began serving.
    pub log: Arc<Mutex<Vec<String>>>,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Node {
    /// Starts a node on `database_url`, listening on a free port, and waits
    /// until it serves. Its errors are shown on stderr.
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Node {
        Self::spawn(database_url, env, true).await
    }

    /// As [`Node::start`]; `echo_errors` false keeps its errors in `log` only
    /// (for tests that cause errors on purpose).
    pub async fn spawn(database_url: &str, env: &[(&str, &str)], echo_errors: bool) -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = Command::new(env!("CARGO_BIN_EXE_minilvb"));
        command
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(["--database-url", database_url, "serve"])
            .current_dir(dir.path())
            // The test's crowd comes from one address.
            .env("MINILVB_RATE_LIMIT__ENABLED", "false")
            .env("MINILVB_SERVER__MAX_CONNECTIONS_PER_IP", "100000")
            .env(
                "RUST_LOG",
                std::env::var("MINILVB_TEST_NODE_LOG")
                    .unwrap_or_else(|_| "warn,minilvb::cli=info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("minilvb starts");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        // What it said before serving, for the failure message if it never does.
        let mut before = Vec::new();
        let address = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(event) = serde_json::from_str::<Value>(&line) else {
                    before.push(line);
                    continue;
                };
                if event["message"] == "minilvb serving" {
                    return event["address"].as_str().map(str::to_owned);
                }
                before.push(line);
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(address) = address else {
            let status = child.try_wait().ok().flatten();
            panic!(
                "the node did not report its address (exit: {status:?}); it said:\n{}",
                before.join("\n")
            );
        };
        let base = format!("http://{address}");
        // Keep draining its log so that the pipe never fills up.
        // Errors are shown; everything with MINILVB_TEST_NODE_LOG (a log filter).
        let verbose = std::env::var_os("MINILVB_TEST_NODE_LOG").is_some();
        let log = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&log);
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if verbose || (echo_errors && line.contains("\"ERROR\"")) {
                    eprintln!("node {address}: {line}");
                }
                kept.lock().unwrap().push(line);
            }
        });
        Node {
            base,
            log,
            child,
            _dir: dir,
        }
    }

    /// How many log lines so far carry `message`.
    pub fn logged(&self, message: &str) -> usize {
        let needle = format!("\"message\":\"{message}\"");
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.contains(&needle))
            .count()
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Posts a protocol request; the envelope, or a description of the failure.
pub async fn post(client: &reqwest::Client, base: &str, body: &Value) -> Result<Value, String> {
    let response = client
        .post(format!("{base}/interface.php"))
        .header("Content-Type", "application/json; charset=utf-8")
        .body(body.to_string())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| format!("{body}: {e}"))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| format!("{body}: {e}"))?;
    if status != 200 {
        return Err(format!("{body}: HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{body}: {e}: {text}"))
}

/// Posts a request that must succeed; its `returnData`.
pub async fn ok(client: &reqwest::Client, base: &str, body: &Value) -> Value {
    let reply = post(client, base, body)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reply["returnValue"], 0, "{body} answered {reply}");
    reply["returnData"].clone()
}

/// A room through `base`: GetUserInfo's pusherinfo, FetchGroupMemberList's
/// `returnData` (first page of 100), and the listed userids in list order.
pub async fn room_with_members(
    client: &reqwest::Client,
    base: &str,
    anchor: &str,
    groupid: &str,
) -> (Value, Value, Vec<String>) {
    let info = ok(
        client,
        base,
        &serde_json::json!({"Action":"GetUserInfo","userid":anchor,"type":0,"fileid":""}),
    )
    .await;
    let members = ok(
        client,
        base,
        &serde_json::json!({"Action":"FetchGroupMemberList","liveuserid":anchor,
            "groupid":groupid,"pageno":1,"pagesize":100}),
    )
    .await;
    let listed = members["memberlist"]
        .as_array()
        .expect("a member list")
        .iter()
        .map(|m| m["userid"].as_str().expect("a userid").to_owned())
        .collect();
    (info, members, listed)
}
