use super::*;

#[test]
fn secrets_never_show() {
    let mut settings = Settings::default();
    settings.live.push_key = Secret::new("hunter2");
    settings.cos.secret_key = Secret::new("s3cret");
    settings.fill_demo_values();
    let text = settings.to_redacted_toml();
    let debug = format!("{settings:?}");
    for shown in [&text, &debug] {
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
        assert!(!shown.contains(DEMO_SECRET), "{shown}");
    }
    assert!(text.contains("push_key = \"<redacted>\""), "{text}");
    assert!(text.contains("api_key = \"<demo value>\""), "{text}");
}

#[test]
fn demo_values_are_listed() {
    let mut settings = Settings::demo();
    settings.derive_domains();
    let demo = settings.demo_settings();
    assert!(
        demo.contains(&"live.push_key") && demo.contains(&"live.bizid"),
        "{demo:?}"
    );
    assert_eq!(settings.live.push_domain, "8888.livepush2.myqcloud.com");
    assert_eq!(settings.live.play_domain, "8888.liveplay.myqcloud.com");
}

#[test]
fn bad_settings_name_the_setting() {
    let mut settings = Settings::demo();
    settings.server.listen = "nowhere".into();
    assert!(
        settings
            .validate()
            .unwrap_err()
            .to_string()
            .contains("server.listen")
    );
    let mut settings = Settings::demo();
    settings.database.url = "redis://x".into();
    assert!(
        settings
            .validate()
            .unwrap_err()
            .to_string()
            .contains("database.url")
    );
    let mut settings = Settings::demo();
    settings.live.record = "flv|avi".into();
    assert!(
        settings
            .validate()
            .unwrap_err()
            .to_string()
            .contains("live.record")
    );
}

#[test]
fn operations_settings_are_checked() {
    type Breaker = fn(&mut Settings);
    let cases: [(&str, Breaker); 15] = [
        ("database.list_cache_mib", |s| s.database.list_cache_mib = 0),
        ("server.trusted_proxies", |s| {
            s.server.trusted_proxies = vec!["10.0.0.0/33".into()]
        }),
        ("server.client_ip_header", |s| {
            s.server.client_ip_header = "bad header".into()
        }),
        ("server.max_concurrent_requests", |s| {
            s.server.max_concurrent_requests = 0
        }),
        ("limits.json_depth", |s| s.limits.json_depth = 1000),
        ("rate_limit.likes_per_sec", |s| {
            s.rate_limit.likes_per_sec = 0.0
        }),
        ("rate_limit.requests_burst", |s| {
            s.rate_limit.requests_burst = 0
        }),
        ("auth.enabled", |s| s.auth.enabled = true),
        ("auth.actions", |s| s.auth.actions = vec!["Nope".into()]),
        ("metrics.listen", |s| s.metrics.listen = "localhost".into()),
        ("server.body_read_timeout_secs", |s| {
            s.server.body_read_timeout_secs = 0
        }),
        ("server.max_connections_per_ip", |s| {
            s.server.max_connections_per_ip = 0
        }),
        ("callback.max_future_secs", |s| {
            s.callback.max_future_secs = 0
        }),
        ("callback.allowed_media_hosts", |s| {
            s.callback.allowed_media_hosts = vec!["https://vod.example.com/".into()]
        }),
        ("callback.allowed_sources", |s| {
            s.callback.allowed_sources = vec!["the cloud".into()]
        }),
    ];
    for (setting, break_it) in cases {
        let mut settings = Settings::demo();
        break_it(&mut settings);
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains(setting), "{setting}: {error}");
    }
    let mut settings = Settings::demo();
    settings.server.trusted_proxies = vec!["10.0.0.0/8".into(), "192.0.2.1".into(), "::1".into()];
    settings.metrics.listen = "127.0.0.1:9898".into();
    settings.auth.enabled = true;
    settings.auth.sdkappid = 1_400_000_000;
    settings.auth.secret_key = Secret::new("im-key");
    settings.validate().unwrap();
    assert_eq!(settings.trusted_proxies().unwrap().len(), 3);
    let text = settings.to_redacted_toml();
    assert!(
        !text.contains("im-key") && text.contains("[auth]") && text.contains("[rate_limit]"),
        "{text}"
    );
    // Defaults keep the stock apps working: no authentication, generous budgets.
    let defaults = Settings::default();
    assert!(!defaults.auth.enabled && defaults.rate_limit.enabled);
    assert!(defaults.metrics.listen.is_empty());
}

#[test]
fn database_settings_are_checked() {
    for url in [
        "sqlite:x.db",
        "postgres://u:p@db:5432/minilvb",
        "postgresql://db/minilvb",
        "mysql://root@127.0.0.1:3306/minilvb",
        "mariadb://root@db/minilvb",
    ] {
        let mut settings = Settings::demo();
        settings.database.url = url.into();
        assert!(settings.validate().is_ok(), "{url}");
    }
    assert_eq!(
        driver_url("mariadb://root@db/minilvb"),
        "mysql://root@db/minilvb"
    );
    let mut settings = Settings::demo();
    settings.database.url = "postgres://db:notaport/minilvb".into();
    let error = settings.validate().unwrap_err().to_string();
    assert!(error.contains("database.url"), "{error}");
    let mut settings = Settings::demo();
    settings.database.min_connections = 9;
    let error = settings.validate().unwrap_err().to_string();
    assert!(error.contains("database.min_connections"), "{error}");
}
