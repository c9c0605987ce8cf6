//! The actions the apps call beyond the protocol's nine.

use base64::Engine as _;
use minilvb_protocol::cloud::tx_secret;
use serde_json::json;

use crate::backend_test;
use crate::common::*;

fn query_param<'a>(url: &'a str, key: &str) -> &'a str {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} missing in {url}"))
}

backend_test! {
    async fn link_mic_gets_its_own_signed_stream(backend) {
        let app = TestApp::spawn(backend).await;
        let request = json!({"Action":"RequestLVBAddrForLinkMic","userid":"viewer-1","title":"mic",
            "userinfo":{"nickname":"n","headpic":"","frontcover":"","location":""}});
        let data = app.ok(request.clone()).await;
        assert_eq!(data["timestamp"], T0);
        let pushurl = data["pushurl"].as_str().unwrap();
        let playurl = data["playurl"].as_str().unwrap();
        assert!(pushurl.starts_with("rtmp://8888.livepush2.myqcloud.com/live/8888_viewer_1_"), "{pushurl}");
        assert!(!pushurl.contains("record="), "link-mic streams are not recorded: {pushurl}");
        let stream = pushurl.split_once("/live/").unwrap().1.split_once('?').unwrap().0;
        assert_eq!(playurl, format!("rtmp://8888.liveplay.myqcloud.com/live/{stream}"));
        let time = query_param(pushurl, "txTime");
        assert_eq!(i64::from_str_radix(time, 16).unwrap(), T0 + 3 * 3600);
        let key = app.settings.live.push_key.expose();
        assert_eq!(query_param(pushurl, "txSecret"), tx_secret(key, stream, time));
        // Nothing stored as a room; another userid or a later session gets another stream.
        assert_eq!(app.fetch_list(4, 1, 20).await["totalcount"], 0);
        let other = app.ok(json!({"Action":"RequestLVBAddrForLinkMic","userid":"viewer_1"})).await;
        assert_ne!(other["playurl"], data["playurl"]);
        app.clock.advance(1);
        assert_ne!(app.ok(request).await["playurl"], data["playurl"]);
        app.fails(json!({"Action":"RequestLVBAddrForLinkMic"}), 1000).await;
    }
}

backend_test! {
    async fn play_urls_are_signed_only_on_the_play_domain(backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.live.play_domain = "play.example.com".into();
            s.live.play_key = minilvb::config::Secret::new("playkey");
        }).await;
        let sign = |url: &str| json!({"Action":"RequestPlayUrlWithSignForLinkMic","userid":"u","originStreamUrl":url});
        let data = app.ok(sign("rtmp://play.example.com/live/8888_vj")).await;
        assert_eq!(data["timestamp"], T0);
        let signed = data["streamUrlWithSignature"].as_str().unwrap();
        assert!(signed.starts_with("rtmp://play.example.com/live/8888_vj?bizid=8888&txSecret="), "{signed}");
        let time = query_param(signed, "txTime");
        assert_eq!(query_param(signed, "txSecret"), tx_secret("playkey", "8888_vj", time));
        let flv = app.ok(sign("http://play.example.com/live/8888_vj.flv")).await;
        assert!(flv["streamUrlWithSignature"].as_str().unwrap().starts_with("http://play.example.com/live/8888_vj.flv?bizid="));
        for bad in ["rtmp://evil.example.com/live/8888_vj", "rtmp://play.example.com.evil.com/live/x",
                    "javascript:alert(1)", "rtmp://play.example.com/live/../../etc"] {
            let msg = app.fails(sign(bad), 4002).await;
            assert!(msg.contains("originStreamUrl"), "{bad}: {msg}");
        }
        app.fails(json!({"Action":"RequestPlayUrlWithSignForLinkMic","userid":"u"}), 1000).await;
    }
}

backend_test! {
    async fn stop_lvb_takes_the_room_offline(backend) {
        let app = TestApp::spawn(backend).await;
        app.go_live("vj", "g").await;
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 1);
        assert_eq!(app.ok(json!({"Action":"StopLVB","userid":"vj"})).await, json!({"result":0}));
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 0);
        app.fails(json!({"Action":"StopLVB","userid":"nobody"}), 2003).await;
        app.fails(json!({"Action":"StopLVB"}), 1000).await;
    }
}

backend_test! {
    async fn cos_v5_and_vod_signatures(backend) {
        let app = TestApp::spawn_with(backend, |s| {
            s.cos.secret_id = minilvb::config::Secret::new("AKIDcos");
            s.cos.secret_key = minilvb::config::Secret::new("BQYIM75p8x0iWVFSIgqEKwFprpRSVHlz");
            s.cos.region = "ap-guangzhou".into();
            s.cos.sign_ttl_secs = 7200;
            s.vod.secret_id = minilvb::config::Secret::new("AKIDvod");
            s.vod.secret_key = minilvb::config::Secret::new("vodkey");
            s.vod.procedure = "QCVB_SimpleProcessFile(1,0)".into();
        }).await;
        app.clock.set(1_557_989_151);
        let v2 = app.ok(json!({"Action":"GetCOSSignV2"})).await;
        assert_eq!(v2["keyTime"], "1557989151;1557996351");
        assert_eq!(v2["signKey"], "eb2519b498b02ac213cb1f3d1a3d27a3b3c9bc5f");
        assert_eq!(v2["secretId"], "AKIDcos");
        assert_eq!(v2["region"], "ap-guangzhou");

        let vod = app.ok(json!({"Action":"GetVodSignatureV2"})).await;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(vod["signature"].as_str().unwrap())
            .unwrap();
        let (mac, plain) = raw.split_at(20);
        let plain = std::str::from_utf8(plain).unwrap();
        let expected_start = "secretId=AKIDvod&currentTimeStamp=1557989151&expireTime=1558075551&random=";
        assert!(plain.starts_with(expected_start), "{plain}");
        assert!(plain.ends_with("&procedure=QCVB_SimpleProcessFile%281%2C0%29"), "{plain}");
        use hmac::Mac;
        let mut check = hmac::Hmac::<sha1::Sha1>::new_from_slice(b"vodkey").unwrap();
        check.update(plain.as_bytes());
        check.verify_slice(mac).expect("the HMAC verifies");
    }
}
