//! The protocol's envelope and a full broadcast session.

use serde_json::json;

use crate::backend_test;
use crate::common::*;

backend_test! {
    async fn full_session(backend) {
        let app = TestApp::spawn(backend).await;
        let data = app.request_addr("anchor-1", "@TGS#1", "hello").await;
        let pushurl = data["pushurl"].as_str().unwrap();
        assert!(pushurl.starts_with("rtmp://8888.livepush2.myqcloud.com/live/8888_anchor_1?bizid=8888&"), "{pushurl}");
        assert_eq!(data["timestamp"], T0);
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 0);
        assert_eq!(app.change_status("anchor-1", 0).await["returnValue"], 0);
        for viewer in ["v1", "v2", "v3"] {
            assert_eq!(app.enter(viewer, "anchor-1", "@TGS#1", 0).await["returnValue"], 0);
        }
        app.enter("v1", "anchor-1", "@TGS#1", 0).await;
        assert_eq!(app.like("anchor-1", 0).await["returnValue"], 0);
        assert_eq!(app.like("anchor-1", 0).await["returnValue"], 0);
        let list = app.fetch_list(1, 1, 20).await;
        assert_eq!(list["totalcount"], 1);
        let room = &list["pusherlist"][0];
        assert_pusherinfo(room);
        assert_eq!(room["viewercount"], 3);
        assert_eq!(room["likecount"], 2);
        assert_eq!(room["status"], "1");
        let members = app.members("anchor-1", "@TGS#1", 1, 20).await;
        assert_eq!(members["totalcount"], 3);
        assert_eq!(app.quit("v2", "anchor-1", "@TGS#1", 0).await["returnValue"], 0);
        assert_eq!(app.change_status("anchor-1", 1).await["returnValue"], 0);
        assert_eq!(app.fetch_list(1, 1, 20).await["totalcount"], 0);
        let info = app.user_info("anchor-1", 0, "").await;
        assert_eq!(info["returnData"]["viewercount"], 2);
        assert_eq!(info["returnData"]["status"], "0");
        app.stop().await;
    }
}

backend_test! {
    async fn get_answers_4001(backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/", "/interface.php"] {
            let response = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let reply: serde_json::Value = response.json().await.unwrap();
            assert_eq!(reply["returnValue"], 4001);
            assert_eq!(reply["returnData"], json!([]));
        }
    }
}
