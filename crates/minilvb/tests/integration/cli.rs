//! The `minilvb` binary: `config`, `migrate` and `serve`, configuration
//! layering (file, then environment, then flags) and start-up errors.

use serde_json::{Value, json};

use crate::backend_test;
use crate::common::*;

const SECRETS: [(&str, &str); 4] = [
    ("MINILVB_LIVE__PUSH_KEY", "pk-Sup3rSecret-1"),
    ("MINILVB_LIVE__API_KEY", "api-Sup3rSecret-2"),
    ("MINILVB_COS__SECRET_ID", "AKID-Sup3rSecret-3"),
    ("MINILVB_COS__SECRET_KEY", "sk-Sup3rSecret-4"),
];

backend_test! {
    async fn config_prints_the_defaults(backend) {
        let _ = backend;
        let cli = Cli::new();
        let (table, text) = cli.config(&[], &[]);
        assert_eq!(setting(&table, "server.listen"), "127.0.0.1:8080");
        assert_eq!(setting(&table, "server.max_body_bytes"), "65536");
        assert_eq!(setting(&table, "database.url"), "sqlite:minilvb.db");
        assert_eq!(setting(&table, "live.push_url_ttl_secs"), "10800");
        assert_eq!(setting(&table, "live.record"), "flv|hls");
        assert_eq!(setting(&table, "live.record_interval"), "10800");
        assert_eq!(setting(&table, "live.recordings_window_days"), "7");
        assert_eq!(setting(&table, "cos.sign_ttl_secs"), "30");
        assert_eq!(setting(&table, "members.order"), "join");
        // Without keys: clearly labelled demo values, never the demo key itself.
        for secret in ["live.push_key", "live.api_key", "cos.secret_id", "cos.secret_key"] {
            assert_eq!(setting(&table, secret), "<demo value>", "{text}");
        }
        assert!(!text.contains("minilvb-demo-key"), "{text}");
        // `config` touches no database.
        assert!(!cli.path("minilvb.db").exists());
    }
}

backend_test! {
    async fn config_redacts_secrets(backend) {
        let _ = backend;
        let cli = Cli::new();
        cli.write("minilvb.toml", "[cos]\nsecret_key = \"file-Sup3rSecret-5\"\n");
        let (ok, stdout, stderr) = cli.run(&["config"], &SECRETS);
        assert!(ok, "{stderr}");
        for (_, secret) in SECRETS {
            assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} shown: {stdout}{stderr}");
        }
        assert!(!stdout.contains("Sup3rSecret"), "{stdout}");
        let table: toml::Table = stdout.parse().unwrap();
        for secret in ["live.push_key", "live.api_key", "cos.secret_id", "cos.secret_key"] {
            assert_eq!(setting(&table, secret), "<redacted>", "{stdout}");
        }
        // The same with the secrets in the file alone.
        let (ok, stdout, _) = cli.run(&["config"], &[]);
        assert!(ok);
        assert!(!stdout.contains("file-Sup3rSecret-5"), "{stdout}");
        assert_eq!(setting(&stdout.parse().unwrap(), "cos.secret_key"), "<redacted>");
    }
}

backend_test! {
    async fn environment_overrides(backend) {
        let _ = backend;
        let cli = Cli::new();
        let (table, text) = cli.config(&[], &[
            ("MINILVB_SERVER__LISTEN", "0.0.0.0:9000"),
            ("MINILVB_DATABASE__URL", "sqlite:other.db"),
            ("MINILVB_LIVE__BIZID", "1234"),
            ("MINILVB_LIVE__PUSH_DOMAIN", "push.example.com"),
            ("MINILVB_LIVE__PUSH_URL_TTL_SECS", "86400"),
            ("MINILVB_COS__APPID", "1250000001"),
            ("MINILVB_COS__BUCKET", "covers"),
            ("MINILVB_COS__SIGN_TTL_SECS", "600"),
            ("MINILVB_MEMBERS__ORDER", "level"),
        ]);
        assert_eq!(setting(&table, "server.listen"), "0.0.0.0:9000");
        assert_eq!(setting(&table, "database.url"), "sqlite:other.db");
        // A numeric BIZID from the environment is still the text "1234".
        assert_eq!(table["live"]["bizid"], toml::Value::String("1234".into()), "{text}");
        assert_eq!(table["cos"]["appid"], toml::Value::String("1250000001".into()), "{text}");
        assert_eq!(setting(&table, "live.push_domain"), "push.example.com");
        assert_eq!(setting(&table, "live.push_url_ttl_secs"), "86400");
        assert_eq!(setting(&table, "cos.bucket"), "covers");
        assert_eq!(setting(&table, "cos.sign_ttl_secs"), "600");
        assert_eq!(setting(&table, "members.order"), "level");
    }
}

backend_test! {
    async fn file_then_environment_then_flags(backend) {
        let _ = backend;
        let cli = Cli::new();
        cli.write(
            "custom.toml",
            "[server]\nlisten = \"127.0.0.1:1111\"\n[database]\nurl = \"sqlite:file.db\"\n[live]\nbizid = \"1111\"\nrecord = \"\"\n",
        );
        let file = ["--config", "custom.toml"];
        let (table, _) = cli.config(&file, &[]);
        assert_eq!(setting(&table, "server.listen"), "127.0.0.1:1111");
        assert_eq!(setting(&table, "database.url"), "sqlite:file.db");
        assert_eq!(setting(&table, "live.bizid"), "1111");
        assert_eq!(setting(&table, "live.record"), "", "recording switched off in the file");
        let env = [("MINILVB_SERVER__LISTEN", "127.0.0.1:2222"), ("MINILVB_DATABASE__URL", "sqlite:env.db")];
        let (table, _) = cli.config(&file, &env);
        assert_eq!(setting(&table, "server.listen"), "127.0.0.1:2222");
        assert_eq!(setting(&table, "database.url"), "sqlite:env.db");
        assert_eq!(setting(&table, "live.bizid"), "1111", "what the environment does not set stays");
        let flags = ["--config", "custom.toml", "--listen", "127.0.0.1:3333", "--database-url", "sqlite:flag.db"];
        let (table, _) = cli.config(&flags, &env);
        assert_eq!(setting(&table, "server.listen"), "127.0.0.1:3333");
        assert_eq!(setting(&table, "database.url"), "sqlite:flag.db");
        // Flags after the subcommand work too.
        let (ok, stdout, stderr) = cli.run(&["config", "--listen", "127.0.0.1:4444"], &env);
        assert!(ok, "{stderr}");
        assert_eq!(setting(&stdout.parse().unwrap(), "server.listen"), "127.0.0.1:4444");
    }
}

backend_test! {
    async fn minilvb_toml_in_the_working_directory_is_read(backend) {
        let _ = backend;
        let cli = Cli::new();
        cli.write("minilvb.toml", "[live]\nbizid = \"5555\"\n[members]\norder = \"latest\"\n");
        let (table, _) = cli.config(&[], &[]);
        assert_eq!(setting(&table, "live.bizid"), "5555");
        assert_eq!(setting(&table, "members.order"), "latest");
        // --config replaces it.
        cli.write("other.toml", "[live]\nbizid = \"6666\"\n");
        let (table, _) = cli.config(&["--config", "other.toml"], &[]);
        assert_eq!(setting(&table, "live.bizid"), "6666");
        assert_eq!(setting(&table, "members.order"), "join");
    }
}

backend_test! {
    async fn unknown_keys_in_the_file_stop_start_up(backend) {
        let _ = backend;
        let cli = Cli::new();
        cli.write("typo.toml", "[server]\nlisten = \"127.0.0.1:1111\"\nlisen = \"x\"\n");
        for args in [&["--config", "typo.toml", "config"][..], &["--config", "typo.toml", "migrate"], &["--config", "typo.toml"]] {
            cli.fails_naming(args, &[], "lisen");
        }
        cli.write("section.toml", "[servre]\nlisten = \"127.0.0.1:1111\"\n");
        cli.fails_naming(&["--config", "section.toml", "config"], &[], "servre");
        cli.write("top.toml", "listen = \"127.0.0.1:1111\"\n");
        cli.fails_naming(&["--config", "top.toml", "config"], &[], "listen");
        // The default file is held to the same rule.
        cli.write("minilvb.toml", "[live]\nbiz_id = \"1\"\n");
        cli.fails_naming(&["config"], &[], "biz_id");
        assert!(!cli.path("minilvb.db").exists(), "nothing was started");
    }
}

backend_test! {
    async fn bad_settings_name_the_setting(backend) {
        let _ = backend;
        let cli = Cli::new();
        for args in [&["--listen", "nowhere", "config"][..], &["--listen", "localhost:99999"]] {
            cli.fails_naming(args, &[], "server.listen");
        }
        cli.fails_naming(&["config"], &[("MINILVB_SERVER__LISTEN", "8080")], "server.listen");
        // Every command checks every setting, also those it does not use.
        cli.fails_naming(&["migrate"], &[("MINILVB_SERVER__LISTEN", "127.0.0.1")], "server.listen");
        for url in ["redis://localhost", "minilvb.db", ""] {
            cli.fails_naming(&["--database-url", url, "config"], &[], "database.url");
            cli.fails_naming(&["config"], &[("MINILVB_DATABASE__URL", url)], "database.url");
        }
        cli.write("bad.toml", "[database]\nurl = \"nosuch://x\"\n");
        cli.fails_naming(&["--config", "bad.toml"], &[], "database.url");
        cli.write("type.toml", "[server]\nmax_body_bytes = \"lots\"\n");
        cli.fails_naming(&["--config", "type.toml", "config"], &[], "server.max_body_bytes");
        cli.write("record.toml", "[live]\nrecord = \"flv|avi\"\n");
        cli.fails_naming(&["--config", "record.toml", "config"], &[], "live.record");
        let stderr = cli.fails_naming(&["--config", "missing.toml", "config"], &[], "missing.toml");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

backend_test! {
    async fn migrate_creates_the_database(backend) {
        let cli = Cli::new();
        // The default: a SQLite file in the working directory.
        let (ok, _, stderr) = cli.run(&["migrate"], &[]);
        assert!(ok, "{stderr}");
        assert!(cli.path("minilvb.db").exists(), "{stderr}");
        let (ok, _, stderr) = cli.run(&["migrate"], &[]);
        assert!(ok, "migrating twice is harmless: {stderr}");
        // The backend's own database.
        let url = database_url(backend, cli.dir.path());
        let (ok, _, stderr) = cli.run(&["--database-url", &url, "migrate"], &[]);
        assert!(ok, "{stderr}");
        if backend == Backend::Sqlite {
            assert!(cli.path("test.db").exists());
        }
    }
}

backend_test! {
    async fn serve_answers_and_stops_on_sigterm(backend) {
        let cli = Cli::new();
        let url = database_url(backend, cli.dir.path());
        let mut env = SECRETS.to_vec();
        env.push(("MINILVB_LIVE__BIZID", "1234"));
        let server = cli.serve(&["--listen", "127.0.0.1:0", "--database-url", &url], &env);
        let health = http_get(&server.addr, "/healthz");
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
        let base = format!("http://{}", server.addr);
        let client = reqwest::Client::new();
        let health = client.get(format!("{base}/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), 200);
        let reply: Value = client
            .post(format!("{base}/interface.php"))
            .body(json!({"Action":"RequestLVBAddr","userid":"u1","groupid":"g1"}).to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(reply["returnValue"], 0, "{reply}");
        let url = PushUrl::parse(reply["returnData"]["pushurl"].as_str().unwrap());
        assert_eq!(url.stream_id, "1234_u1");
        let now = reply["returnData"]["timestamp"].as_i64().unwrap();
        url.assert_signed("pk-Sup3rSecret-1", now + 3 * 3600);
        let (status, log) = server.terminate();
        assert!(status.success(), "{status} after SIGTERM: {log:?}");
        let log = log.join("\n");
        assert!(log.contains("SIGTERM"), "{log}");
        assert!(log.contains("minilvb stopped"), "{log}");
        assert!(!log.contains("Sup3rSecret"), "a secret was logged: {log}");
        // Keys were given, so only the missing ones are demo values.
        assert!(!log.contains("live.push_key"), "{log}");
    }
}

backend_test! {
    async fn serve_warns_loudly_on_demo_values(backend) {
        let cli = Cli::new();
        let url = database_url(backend, cli.dir.path());
        // The default subcommand is `serve`; `serve` itself works too.
        let server = cli.serve(&["serve", "--listen", "127.0.0.1:0", "--database-url", &url], &[]);
        // SIGTERM at once, as soon as it says it serves: a graceful stop all the same.
        let (status, log) = server.terminate();
        assert!(status.success(), "{status} after SIGTERM: {log:?}");
        let warning = log
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|event| event["level"] == "WARN" && event["message"].as_str().unwrap_or_default().contains("DEMO"))
            .unwrap_or_else(|| panic!("no demo warning: {log:?}"));
        let settings = warning["settings"].as_str().unwrap_or_default();
        for name in ["live.bizid", "live.push_key", "live.api_key", "cos.secret_id", "cos.secret_key"] {
            assert!(settings.contains(name), "{warning}");
        }
        assert!(!log.join("\n").contains("minilvb-demo-key"), "{log:?}");
    }
}

backend_test! {
    async fn serve_refuses_a_busy_port(backend) {
        let cli = Cli::new();
        let url = database_url(backend, cli.dir.path());
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let stderr = cli.fails_naming(&["--listen", &addr, "--database-url", &url], &[], "server.listen");
        assert!(stderr.contains(&addr), "{stderr}");
    }
}
