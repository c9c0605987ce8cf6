//! The console request by request, against the server and its store on
//! each backend: sign-in and sessions, CSRF and role refusals, each
//! action's effect where the apps see it and its audit row.

use reqwest::StatusCode;
use serde_json::json;

use super::*;
use crate::backend_test;

/// userids of FetchList 1 (the rooms online).
async fn live_userids(app: &TestApp) -> Vec<String> {
    app.fetch_all(1, 20)
        .await
        .iter()
        .map(|room| room["userid"].as_str().unwrap_or_default().to_owned())
        .collect()
}

backend_test! {
    async fn an_operator_signs_in_sees_the_rooms_live_now_and_signs_out(backend) {
        let app = spawn_console(backend, |_| {}).await;
        app.go_live("alice", "g-alice").await;

        let mut agent = Agent::new(&app);
        let first = agent.get("/").await;
        assert_eq!(first.status, StatusCode::SEE_OTHER);
        assert!(first.location().ends_with("/login?next=%2F"), "{}", first.location());
        let wrong = agent.login("mia", "not-her-password").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert!(wrong.body.contains("Wrong name or password."));
        assert!(!agent.cookies.contains_key("minilvb_console"));

        let answer = agent.login("mia", &password_of("mia")).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let cookie = answer
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("minilvb_console="))
            .expect("a session cookie");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        let page = agent.get("/").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("<h1>Live now</h1>"));
        assert!(page.body.contains("title of alice"), "{}", page.body);
        for header in ["content-security-policy", "x-frame-options", "x-content-type-options"] {
            assert!(page.headers.contains_key(header), "no {header}");
        }
        let room = agent.get("/rooms/alice").await;
        assert_eq!(room.status, StatusCode::OK);
        assert!(room.body.contains("Force offline"));

        let token = page.csrf();
        let out = agent.post("/logout", &[("csrf", &token)]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert_eq!(agent.get("/").await.status, StatusCode::SEE_OTHER);
        app.stop().await;
    }
}

backend_test! {
    async fn a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing(backend) {
        let app = spawn_console(backend, |_| {}).await;
        app.go_live("alice", "g-alice").await;
        let rows = audit_rows(&app).await;
        let mut agent = Agent::signed_in(&app, "mia").await;
        let mut other = Agent::signed_in(&app, "root").await;
        let foreign = other.get("/").await.csrf();
        for token in [None, Some(""), Some(foreign.as_str())] {
            let mut fields = vec![("reason", "spam")];
            if let Some(token) = token {
                fields.push(("csrf", token));
            }
            let answer = agent.post("/rooms/alice/force-offline", &fields).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "token {token:?}");
            assert!(answer.body.contains("did not come from this console"), "{}", answer.body);
        }
        // The right token from another site.
        let own = agent.get("/").await.csrf();
        agent.origin = "https://evil.example".into();
        let answer = agent.post("/rooms/alice/ban", &[("csrf", &own), ("reason", "x")]).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);

        assert_eq!(live_userids(&app).await, ["alice"]);
        assert!(app.store.bans().await.unwrap().is_empty());
        assert_eq!(audit_rows(&app).await, rows);
        app.stop().await;
    }
}

backend_test! {
    async fn a_viewer_sees_no_action_buttons_and_is_refused_when_it_posts_anyway(backend) {
        let app = spawn_console(backend, |_| {}).await;
        app.go_live("alice", "g-alice").await;
        app.ok(json!({"Action":"ReportUser","userid":"fan","hostuserid":"alice"})).await;
        app.add_recording("alice", "file-1", T0 - 60).await;
        let rows = audit_rows(&app).await;
        let mut agent = Agent::signed_in(&app, "vic").await;
        let room = agent.get("/rooms/alice").await;
        assert_eq!(room.status, StatusCode::OK);
        assert!(!room.body.contains(">Force offline<") && !room.body.contains(">Ban<"), "{}", room.body);
        assert!(!agent.get("/reports").await.body.contains(">Resolve<"));
        assert!(!agent.get("/recordings").await.body.contains(">Delete<"));

        let report = app.store.reports(false).await.unwrap()[0].id;
        for path in [
            "/rooms/alice/force-offline".to_owned(),
            "/rooms/alice/ban".to_owned(),
            format!("/reports/{report}/resolve"),
            "/recordings/alice/file-1/delete".to_owned(),
            "/operators".to_owned(),
        ] {
            let answer = agent.act(&path, &[("reason", "curious"), ("name", "x")]).await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
            assert!(answer.body.contains("role"), "{}", answer.body);
        }
        assert_eq!(live_userids(&app).await, ["alice"]);
        assert_eq!(app.store.reports(false).await.unwrap().len(), 1);
        assert_eq!(audit_rows(&app).await, rows);
        app.stop().await;
    }
}

backend_test! {
    async fn force_offline_takes_the_room_out_of_fetch_list_and_is_audited(backend) {
        let app = spawn_console(backend, |_| {}).await;
        app.go_live("alice", "g-alice").await;
        app.go_live("bob", "g-bob").await;
        let mut agent = Agent::signed_in(&app, "mia").await;
        let answer = agent
            .act("/rooms/alice/force-offline", &[("reason", "left running"), ("back", "/")])
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert!(agent.notice_at(answer.location()).await.contains("room of alice is offline"));
        assert_eq!(live_userids(&app).await, ["bob"]);
        assert!(!agent.get("/").await.body.contains("title of alice"));

        let entry = last_audit(&app).await;
        assert_eq!(
            (entry.actor.as_str(), entry.action.as_str(), entry.target.as_str(), entry.reason.as_str()),
            ("console:mia", "force_offline", "alice", "left running")
        );
        assert!(entry.outcome.contains("room of alice is offline"), "{}", entry.outcome);
        let audit = agent.get("/audit").await;
        assert!(audit.body.contains("console:mia") && audit.body.contains("left running"));

        // A room that is not there: a 404 page, and nothing logged.
        let missing = agent.act("/rooms/nobody/force-offline", &[]).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(last_audit(&app).await, entry);
        app.stop().await;
    }
}

backend_test! {
    async fn a_ban_from_the_console_bars_request_lvb_addr_until_it_is_lifted(backend) {
        let app = spawn_console(backend, |_| {}).await;
        app.go_live("spammer", "g-s").await;
        let mut agent = Agent::signed_in(&app, "mia").await;
        // 2026-01-02 00:00 UTC, a day after the test clock's start.
        let answer = agent
            .act("/rooms/spammer/ban", &[("reason", "spam"), ("until", "2026-01-02T00:00")])
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let ban = app.store.bans().await.unwrap().pop().expect("a ban");
        assert_eq!(
            (ban.userid.as_str(), ban.reason.as_str(), ban.ends_at),
            ("spammer", "spam", Some(T0 + 86_400))
        );
        assert!(live_userids(&app).await.is_empty());
        app.fails(json!({"Action":"RequestLVBAddr","userid":"spammer","groupid":"g2","title":"x"}), 4004)
            .await;
        let bans = agent.get("/bans").await;
        assert!(bans.body.contains("spammer") && bans.body.contains("spam"));
        let entry = last_audit(&app).await;
        assert_eq!((entry.actor.as_str(), entry.action.as_str()), ("console:mia", "ban"));

        let lifted = agent.act("/rooms/spammer/unban", &[("reason", "appeal")]).await;
        assert_eq!(lifted.status, StatusCode::SEE_OTHER, "{}", lifted.body);
        assert!(app.store.bans().await.unwrap().is_empty());
        app.request_addr("spammer", "g3", "back again").await;
        let entry = last_audit(&app).await;
        assert_eq!(
            (entry.action.as_str(), entry.target.as_str(), entry.reason.as_str()),
            ("unban", "spammer", "appeal")
        );

        // An end in the past is refused in the page.
        let past = agent
            .act("/rooms/spammer/ban", &[("reason", "spam"), ("until", "2025-01-01T00:00")])
            .await;
        assert_eq!(past.status, StatusCode::BAD_REQUEST);
        assert!(app.store.bans().await.unwrap().is_empty());
        app.stop().await;
    }
}

backend_test! {
    async fn resolving_a_report_from_the_console_closes_it_and_is_audited(backend) {
        let app = spawn_console(backend, |_| {}).await;
        app.go_live("vj", "g-vj").await;
        for reporter in ["fan1", "fan2", "fan2"] {
            app.ok(json!({"Action":"ReportUser","userid":reporter,"hostuserid":"vj"})).await;
        }
        let mut agent = Agent::signed_in(&app, "mia").await;
        let list = agent.get("/reports?order=most").await;
        assert_eq!(list.status, StatusCode::OK);
        assert!(list.body.contains("fan2") && list.body.contains("fan1"));
        let reports = app.store.reports(false).await.unwrap();
        let id = reports.iter().find(|r| r.reporter == "fan2").unwrap().id;
        let answer = agent
            .act(&format!("/reports/{id}/resolve"), &[("reason", "warned the VJ")])
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let open: Vec<_> = app.store.reports(false).await.unwrap().into_iter().map(|r| r.reporter).collect();
        assert_eq!(open, ["fan1"]);
        let entry = last_audit(&app).await;
        assert_eq!(
            (entry.actor.as_str(), entry.action.as_str(), entry.target.clone(), entry.reason.as_str()),
            ("console:mia", "resolve_report", format!("report {id}"), "warned the VJ")
        );
        let again = agent.act(&format!("/reports/{id}/resolve"), &[]).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);
        app.stop().await;
    }
}

backend_test! {
    async fn deleting_a_recording_from_the_console_takes_it_off_the_lists(backend) {
        let app = spawn_console(backend, |_| {}).await;
        app.add_recording("alice", "file-1", T0 - 60).await;
        app.add_recording("alice", "file-2", T0 - 30).await;
        let mut agent = Agent::signed_in(&app, "mia").await;
        let page = agent.get("/recordings?vj=alice").await;
        assert!(page.body.contains("recording file-1") && page.body.contains("recording file-2"));
        let answer = agent
            .act("/recordings/alice/file-1/delete", &[("reason", "copyright")])
            .await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        let listed: Vec<_> = app.fetch_all(2, 20).await.iter().map(|r| r["fileid"].clone()).collect();
        assert_eq!(listed, [json!("file-2")]);
        let entry = last_audit(&app).await;
        assert_eq!(
            (entry.action.as_str(), entry.target.as_str(), entry.reason.as_str()),
            ("delete_recording", "alice/file-1", "copyright")
        );
        app.stop().await;
    }
}

backend_test! {
    async fn an_idle_session_ends_and_the_next_page_asks_to_sign_in_again(backend) {
        let app = spawn_console(backend, |settings| settings.admin.session_idle_secs = 600).await;
        let mut agent = Agent::signed_in(&app, "mia").await;
        app.clock.advance(500);
        assert_eq!(agent.get("/reports").await.status, StatusCode::OK);
        app.clock.advance(500);
        assert_eq!(agent.get("/").await.status, StatusCode::OK, "the expiry slides");
        app.clock.advance(601);
        let answer = agent.get("/reports").await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER);
        assert!(answer.location().ends_with("/login?next=%2Freports&expired=1"), "{}", answer.location());
        let page = agent.get("/login?next=%2Freports&expired=1").await;
        assert!(page.body.contains("Your session ended."));
        app.stop().await;
    }
}

backend_test! {
    async fn operator_accounts_changed_in_the_console_are_audited_and_end_sessions(backend) {
        let app = spawn_console(backend, |_| {}).await;
        let mut admin = Agent::signed_in(&app, "root").await;
        let added = admin
            .act("/operators", &[("name", "nina"), ("role", "moderator"), ("password", &password_of("nina"))])
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        let entry = last_audit(&app).await;
        assert_eq!(
            (entry.actor.as_str(), entry.action.as_str(), entry.target.as_str()),
            ("console:root", "add_operator", "nina")
        );
        let mut nina = Agent::signed_in(&app, "nina").await;
        assert_eq!(nina.get("/").await.status, StatusCode::OK);

        let changed = admin
            .act(
                "/operators/nina/password",
                &[("password", "another-password-1"), ("confirm", "another-password-1")],
            )
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.body);
        assert_eq!(nina.get("/").await.status, StatusCode::SEE_OTHER, "her session ended");
        assert_eq!(last_audit(&app).await.action, "set_password");

        let removed = admin.act("/operators/nina/remove", &[]).await;
        assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.body);
        assert!(app.store.operator("nina").await.unwrap().is_none());
        assert_eq!(last_audit(&app).await.action, "remove_operator");

        // The last admin stays (through the shared account functions).
        let refused = accounts(&app).remove(&Actor::cli(), "root").await.unwrap_err();
        assert!(refused.to_string().contains("last admin"), "{refused}");
        assert!(app.store.operator("root").await.unwrap().is_some());
        app.stop().await;
    }
}

backend_test! {
    async fn the_console_is_off_by_default_and_never_on_the_apps_port(backend) {
        let app = TestApp::spawn(backend).await;
        assert!(app.console_base.is_none());
        let on_public = app.client.get(format!("{}/login", app.base)).send().await.unwrap();
        assert_ne!(on_public.status(), StatusCode::OK);
        app.stop().await;

        let app = spawn_console(backend, |_| {}).await;
        let on_public = app.client.get(format!("{}/login", app.base)).send().await.unwrap();
        assert_ne!(on_public.status(), StatusCode::OK);
        assert!(!on_public.text().await.unwrap().contains("Sign in"));
        app.stop().await;
    }
}

backend_test! {
    async fn behind_a_trusted_https_proxy_under_a_path_the_cookies_are_secure(backend) {
        let app = spawn_console(backend, |settings| {
            settings.admin.base_path = "/admin".into();
            settings.admin.trusted_proxies = vec!["127.0.0.1".into()];
        })
        .await;
        let base = app.console_base.clone().unwrap();
        assert!(base.ends_with("/admin"), "{base}");
        let mut agent = Agent::new(&app);
        agent.headers = vec![
            ("x-forwarded-proto".into(), "https".into()),
            ("x-forwarded-for".into(), "203.0.113.9".into()),
        ];
        let answer = agent.login("mia", &password_of("mia")).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert_eq!(answer.location(), "/admin/");
        let cookie = answer
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("minilvb_console="))
            .unwrap();
        assert!(cookie.contains("; Secure") && cookie.contains("Path=/admin"), "{cookie}");
        assert_eq!(agent.get("/").await.status, StatusCode::OK);
        let outside = agent.get("/../reports").await;
        assert_ne!(outside.status, StatusCode::OK);
        app.stop().await;
    }
}

backend_test! {
    async fn a_refusal_by_the_cloud_is_shown_in_the_page_audited_and_changes_nothing(backend) {
        use minilvb_cloud::fake::{Fault, FakeCloud};
        let cloud = FakeCloud::start("AKIDconsole", "console-secret").await.unwrap();
        cloud.set_now(Some(T0));
        let app = spawn_console(backend, |settings| {
            settings.cloud_api.secret_id = "AKIDconsole".into();
            settings.cloud_api.secret_key = minilvb::config::Secret::new("console-secret");
            settings.cloud_api.live_endpoint = cloud.base_url();
            settings.cloud_api.vod_endpoint = cloud.base_url();
        })
        .await;
        app.go_live("alice", "g-alice").await;
        let mut agent = Agent::signed_in(&app, "mia").await;
        cloud.fail_next(1, Fault::refuse("UnauthorizedOperation", "this key may not cut streams"));
        let answer = agent.act("/rooms/alice/force-offline", &[("reason", "test")]).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{}", answer.body);
        assert!(answer.body.contains("this key may not cut streams"), "{}", answer.body);
        assert!(answer.body.contains("nothing was changed"), "{}", answer.body);
        assert!(!answer.body.contains("--local-only"), "a command-line hint in a page");
        assert_eq!(live_userids(&app).await, ["alice"]);
        let entry = last_audit(&app).await;
        assert_eq!((entry.actor.as_str(), entry.action.as_str()), ("console:mia", "force_offline"));
        assert!(entry.outcome.starts_with("failed: "), "{}", entry.outcome);

        // Once the cloud agrees, the same button works, and says so.
        let answer = agent.act("/rooms/alice/force-offline", &[("reason", "test")]).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
        assert!(agent.notice_at(answer.location()).await.contains("RequestId"));
        assert!(live_userids(&app).await.is_empty());
        assert_eq!(cloud.calls_of("DropLiveStream").len(), 2);
        app.stop().await;
    }
}
