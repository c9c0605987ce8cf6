//! Optional caller authentication with the IM UserSig: off by default; when
//! on, the configured Actions need a valid UserSig of the userid they act for.

use minilvb::config::Secret;
use minilvb_protocol::cloud::usersig;
use serde_json::{Value, json};

use crate::backend_test;
use crate::common::*;

const APP: u64 = 1_400_012_345;
const KEY: &str = "im-secret-key-of-the-test";

fn auth_on(s: &mut minilvb::config::Settings) {
    s.auth.enabled = true;
    s.auth.sdkappid = APP;
    s.auth.secret_key = Secret::new(KEY);
}

fn sig(identifier: &str) -> String {
    usersig::mint(APP, KEY, identifier, T0 - 60, 86_400)
}

async fn post_signed(app: &TestApp, usersig: Option<&str>, body: Value) -> Value {
    let headers: Vec<(&str, &str)> = usersig.map(|sig| ("X-UserSig", sig)).into_iter().collect();
    app.post_with_headers(&headers, body).await
}

fn assert_refused(reply: &Value, why: &str) {
    assert_eq!(reply["returnValue"], 4005, "{reply}");
    let msg = reply["returnMsg"].as_str().unwrap();
    assert!(
        msg.starts_with("authentication failed! | ") && msg.contains(why),
        "{reply}"
    );
}

fn lvb_addr(userid: &str) -> Value {
    json!({"Action":"RequestLVBAddr","userid":userid,"groupid":"g","title":"t"})
}

backend_test! {
    async fn off_by_default(backend) {
        let app = TestApp::spawn(backend).await;
        assert!(!app.settings.auth.enabled);
        app.request_addr("vj", "g", "t").await;
        app.ok(json!({"Action":"GetCOSSign"})).await;
    }
}

backend_test! {
    async fn valid_signatures_pass(backend) {
        let app = TestApp::spawn_with(backend, auth_on).await;
        let vj = sig("vj");
        assert_eq!(post_signed(&app, Some(&vj), lvb_addr("vj")).await["returnValue"], 0);
        let reply = post_signed(&app, Some(&vj), json!({"Action":"ChangeStatus","userid":"vj","status":0})).await;
        assert_eq!(reply["returnValue"], 0, "{reply}");
        // GetCOSSign acts for nobody: any valid signature of the app will do.
        let reply = post_signed(&app, Some(&sig("someone")), json!({"Action":"GetCOSSign"})).await;
        assert_eq!(reply["returnValue"], 0, "{reply}");
        let viewer = sig("viewer");
        let enter = json!({"Action":"EnterGroup","userid":"viewer","liveuserid":"vj","groupid":"g","flag":0});
        assert_eq!(post_signed(&app, Some(&viewer), enter).await["returnValue"], 0);
        // Reads and likes need no proof.
        app.fetch_list(1, 1, 10).await;
        assert_eq!(app.like("vj", 0).await["returnValue"], 0);
        assert_eq!(app.members("vj", "g", 1, 10).await["totalcount"], 1);
    }
}

backend_test! {
    async fn missing_expired_forged_and_other_users_signatures_are_refused(backend) {
        let app = TestApp::spawn_with(backend, auth_on).await;
        assert_refused(&post_signed(&app, None, lvb_addr("vj")).await, "x-usersig");
        assert_refused(&post_signed(&app, None, json!({"Action":"GetCOSSign"})).await, "usersig");
        let expired = usersig::mint(APP, KEY, "vj", T0 - 7200, 3600);
        assert_refused(&post_signed(&app, Some(&expired), lvb_addr("vj")).await, "expired");
        let forged = usersig::mint(APP, "guessed key", "vj", T0, 86_400);
        assert_refused(&post_signed(&app, Some(&forged), lvb_addr("vj")).await, "does not match");
        let other_app = usersig::mint(APP + 1, KEY, "vj", T0, 86_400);
        assert_refused(&post_signed(&app, Some(&other_app), lvb_addr("vj")).await, "another IM application");
        assert_refused(&post_signed(&app, Some(&sig("mallory")), lvb_addr("vj")).await, "another user");
        assert_refused(&post_signed(&app, Some("garbage"), lvb_addr("vj")).await, "not well formed");
        // Nobody else can take the VJ offline, or make a viewer quit.
        app.store.start_session(&minilvb_store::NewSession {
            userid: "vj".into(), stream_id: "8888_vj".into(), groupid: "g".into(),
            title: "t".into(), userinfo: Default::default(), play_url: String::new(),
            hls_play_url: String::new(), started_at: T0,
        }).await.unwrap();
        let status = json!({"Action":"ChangeStatus","userid":"vj","status":0});
        assert_refused(&post_signed(&app, Some(&sig("mallory")), status.clone()).await, "another user");
        let quit = json!({"Action":"QuitGroup","userid":"viewer","liveuserid":"vj","groupid":"g","flag":0});
        assert_refused(&post_signed(&app, Some(&sig("mallory")), quit).await, "another user");
        // Nothing refused was applied.
        assert_eq!(app.fetch_list(1, 1, 10).await["totalcount"], 0);
        // The clock decides expiry: a signature valid now is refused later.
        let short = usersig::mint(APP, KEY, "vj", T0, 600);
        assert_eq!(post_signed(&app, Some(&short), status.clone()).await["returnValue"], 0);
        app.clock.advance(601);
        assert_refused(&post_signed(&app, Some(&short), status).await, "expired");
    }
}

backend_test! {
    async fn the_header_and_actions_are_configurable(backend) {
        let app = TestApp::spawn_with(backend, |s| {
            auth_on(s);
            s.auth.header = "X-MiniLVB-Sig".into();
            s.auth.actions = vec!["FetchList".into()];
        }).await;
        // RequestLVBAddr no longer needs it; FetchList does, in the other header.
        app.request_addr("vj", "g", "t").await;
        assert_refused(&post_signed(&app, Some(&sig("x")), json!({"Action":"FetchList","flag":1})).await, "x-minilvb-sig");
        let reply = app.post_with_headers(&[("X-MiniLVB-Sig", &sig("x"))], json!({"Action":"FetchList","flag":4})).await;
        assert_eq!(reply["returnValue"], 0, "{reply}");
    }
}
