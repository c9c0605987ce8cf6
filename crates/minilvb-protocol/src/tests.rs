//! Unit tests of request parsing: field coercions, error wording, limits, paging.

use serde_json::{Value, json};

use super::*;

fn parse(body: Value) -> Result<Request, ProtocolError> {
    parse_request(body.to_string().as_bytes())
}

/// `value` as the server reads it from a body (leaked: tests only).
fn object(value: Value) -> Object<'static> {
    let body: &'static [u8] = Vec::leak(value.to_string().into_bytes());
    match json::parse(body, limits::DEPTH).unwrap() {
        Json::Object(map) => map,
        other => panic!("not an object: {other:?}"),
    }
}

fn int(value: Value) -> Result<Option<i64>, ProtocolError> {
    Fields::new(&object(json!({ "n": value }))).optional_int("n")
}

fn string(value: Value) -> Result<String, ProtocolError> {
    Fields::new(&object(json!({ "s": value }))).optional_str("s", 16)
}

fn code(result: Result<Request, ProtocolError>) -> ErrorCode {
    result.expect_err("an error").code
}

#[test]
fn integers_from_numbers_strings_and_integral_floats() {
    assert_eq!(int(json!(20)).unwrap(), Some(20));
    assert_eq!(int(json!(-3)).unwrap(), Some(-3));
    assert_eq!(int(json!("20")).unwrap(), Some(20));
    assert_eq!(int(json!(" 20 ")).unwrap(), Some(20));
    assert_eq!(int(json!("-1")).unwrap(), Some(-1));
    assert_eq!(int(json!(20.0)).unwrap(), Some(20));
    assert_eq!(int(json!(-0.0)).unwrap(), Some(0));
    assert_eq!(int(json!(1e3)).unwrap(), Some(1000));
    assert_eq!(int(json!(i64::MAX)).unwrap(), Some(i64::MAX));
    assert_eq!(int(json!(i64::MIN)).unwrap(), Some(i64::MIN));
    assert_eq!(int(json!(i64::MAX.to_string())).unwrap(), Some(i64::MAX));
}

#[test]
fn null_and_empty_string_are_missing() {
    assert_eq!(int(Value::Null).unwrap(), None);
    assert_eq!(int(json!("")).unwrap(), None);
    assert_eq!(
        Fields::new(&object(json!({}))).optional_int("n").unwrap(),
        None
    );
    assert_eq!(string(Value::Null).unwrap(), "");
    assert_eq!(string(json!("")).unwrap(), "");
    let fields = object(json!({"a": null, "b": ""}));
    let fields = Fields::new(&fields);
    for key in ["a", "b", "c"] {
        assert_eq!(
            fields.required_str(key, 10).unwrap_err(),
            ProtocolError::missing(key)
        );
        assert_eq!(
            fields.required_int(key).unwrap_err().msg,
            format!("invalid param in json from client! | {key} is null or empty!")
        );
    }
}

#[test]
fn non_integers_are_1000_naming_the_field() {
    for value in [
        json!(1.5),
        json!(-0.25),
        json!("1.0"),
        json!("1e3"),
        json!("abc"),
        json!(" "),
        json!("0x10"),
        json!(true),
        json!(false),
        json!([1]),
        json!({"n": 1}),
        json!([]),
        json!({}),
        json!(1e300),
        json!(-1e300),
        json!(u64::MAX),
        json!("9223372036854775808"),
        json!(1.0e16),
    ] {
        let err = int(value.clone()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParam, "{value}");
        assert!(
            err.msg
                .starts_with("invalid param in json from client! | n:")
                && err.msg.ends_with(" is not int!"),
            "{value}: {}",
            err.msg
        );
    }
}

#[test]
fn huge_integers_beyond_i64_are_not_ints() {
    let body = br#"{"Action":"ChangeStatus","userid":"u","status":99999999999999999999999}"#;
    let err = parse_request(body).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParam);
    assert!(err.msg.contains("status:"), "{}", err.msg);
}

#[test]
fn strings_from_strings_and_numbers() {
    assert_eq!(string(json!("abc")).unwrap(), "abc");
    assert_eq!(string(json!(10001)).unwrap(), "10001");
    assert_eq!(string(json!(-7)).unwrap(), "-7");
    assert_eq!(string(json!(1.5)).unwrap(), "1.5");
    assert_eq!(string(json!("  padded ")).unwrap(), "  padded ");
    assert_eq!(string(json!("名字")).unwrap(), "名字");
    for value in [
        json!(true),
        json!([]),
        json!(["a"]),
        json!({}),
        json!({"a": 1}),
    ] {
        let err = string(value.clone()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidParam);
        assert!(
            err.msg
                .starts_with("invalid param in json from client! | s:")
                && err.msg.ends_with(" is not string!"),
            "{value}: {}",
            err.msg
        );
    }
}

#[test]
fn length_limits_count_bytes() {
    let fields = object(json!({
        "ok": "x".repeat(16),
        "long": "x".repeat(17),
        "wide": "直".repeat(6),
        "number": 12345678901234567_i64,
    }));
    let fields = Fields::new(&fields);
    assert_eq!(fields.required_str("ok", 16).unwrap().len(), 16);
    for key in ["long", "wide", "number"] {
        let err = fields.required_str(key, 16).unwrap_err();
        assert_eq!(err, ProtocolError::too_long(key, 16));
        assert_eq!(
            err.msg,
            format!("invalid param in json from client! | {key} is longer than 16 bytes!")
        );
    }
    let err =
        parse(json!({"Action":"RequestLVBAddr","userid":"u".repeat(limits::ID + 1),"groupid":"g"}))
            .unwrap_err();
    assert_eq!(err, ProtocolError::too_long("userid", limits::ID));
}

#[test]
fn nul_bytes_are_refused() {
    let err = string(json!("a\u{0}b")).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParam);
    assert!(err.msg.contains("| s:"), "{}", err.msg);
    let err = parse(json!({"Action":"EnterGroup","userid":"v","liveuserid":"a","groupid":"g","nickname":"\u{0}"}))
        .unwrap_err();
    assert!(err.msg.contains("nickname"), "{}", err.msg);
}

#[test]
fn error_messages_bound_the_echoed_value() {
    let err = int(json!("9".repeat(1000))).unwrap_err();
    assert!(err.msg.len() < 150, "{}", err.msg);
    assert!(err.msg.ends_with("... is not int!"), "{}", err.msg);
    // Cut on a character boundary.
    let err = int(json!("直".repeat(100))).unwrap_err();
    assert!(err.msg.len() < 150, "{}", err.msg);
    let err = parse(json!({"Action": "A".repeat(200)})).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidParam);
    assert!(err.msg.len() < 150, "{}", err.msg);
}

#[test]
fn nested_fields_are_named_with_their_prefix() {
    let err = parse(
        json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","userinfo":{"nickname":true}}),
    )
    .unwrap_err();
    assert_eq!(
        err.msg,
        "invalid param in json from client! | userinfo.nickname:true is not string!"
    );
    let err = parse(json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","userinfo":"me"}))
        .unwrap_err();
    assert_eq!(
        err.msg,
        "invalid param in json from client! | userinfo:me is not object!"
    );
    let err = parse(json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","userinfo":[1]}))
        .unwrap_err();
    assert!(
        err.msg.contains("userinfo:[1] is not object"),
        "{}",
        err.msg
    );
    // An empty array stands for an empty dictionary (iOS).
    let request =
        parse(json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","userinfo":[]})).unwrap();
    assert!(
        matches!(request, Request::RequestLvbAddr { userinfo, .. } if userinfo == UserInfo::default())
    );
}

#[test]
fn bodies_that_are_not_objects_are_4001() {
    for body in [
        &b""[..],
        b"{}",
        b"[]",
        b"\"\"",
        b"0",
        b"null",
        b"false",
        b"true",
        b"1",
        b"[{}]",
        b"abc",
        b"{\"Action\":",
        b"\xff\xfe",
    ] {
        let err = parse_request(body).unwrap_err();
        assert_eq!(
            err.code,
            ErrorCode::InvalidJson,
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert_eq!(
        parse_request(deep.as_bytes()).unwrap_err().code,
        ErrorCode::InvalidJson
    );
}

#[test]
fn action_missing_or_unknown_is_1000() {
    assert_eq!(
        parse(json!({"userid":"u"})).unwrap_err(),
        ProtocolError::missing("Action")
    );
    assert_eq!(
        parse(json!({"Action":""})).unwrap_err(),
        ProtocolError::missing("Action")
    );
    let err = parse(json!({"Action":"Foo"})).unwrap_err();
    assert_eq!(
        (err.code, err.msg.as_str()),
        (ErrorCode::InvalidParam, "invalid interface name:Foo")
    );
}

#[test]
fn each_action_parses_from_the_apps_bodies() {
    assert_eq!(
        parse(
            json!({"Action":"RequestLVBAddr","userid":"u","groupid":"g","title":"t",
            "userinfo":{"nickname":"n","headpic":"h","frontcover":"f","location":"l"}})
        )
        .unwrap(),
        Request::RequestLvbAddr {
            userid: "u".into(),
            groupid: "g".into(),
            title: "t".into(),
            userinfo: UserInfo {
                nickname: "n".into(),
                headpic: "h".into(),
                frontcover: "f".into(),
                location: "l".into(),
            },
        }
    );
    assert_eq!(
        parse(json!({"Action":"ChangeStatus","userid":"u","status":0})).unwrap(),
        Request::ChangeStatus {
            userid: "u".into(),
            online: true
        }
    );
    assert_eq!(
        parse(json!({"Action":"ChangeStatus","userid":"u","status":"1"})).unwrap(),
        Request::ChangeStatus {
            userid: "u".into(),
            online: false
        }
    );
    assert_eq!(
        parse(
            json!({"Action":"ChangeCount","userid":"u","type":1,"optype":1,"flag":0,"fileid":""})
        )
        .unwrap(),
        Request::ChangeLikes {
            target: Counted::Room { userid: "u".into() },
            delta: -1
        }
    );
    assert_eq!(
        parse(
            json!({"Action":"ChangeCount","userid":"u","type":0,"optype":0,"flag":1,"fileid":"f"})
        )
        .unwrap(),
        Request::ChangeViewersDeprecated {
            target: Counted::Recording {
                userid: "u".into(),
                fileid: "f".into()
            }
        }
    );
    assert_eq!(
        parse(json!({"flag":3,"pageno":2,"pagesize":20,"Action":"FetchList"})).unwrap(),
        Request::FetchList {
            flag: ListFlag::OnlineThenRecordings,
            page: Page {
                number: 2,
                size: 20
            }
        }
    );
    assert_eq!(
        parse(json!({"Action":"GetCOSSign"})).unwrap(),
        Request::GetCosSign
    );
    assert_eq!(
        parse(json!({"Action":"EnterGroup","userid":"v","liveuserid":"a","groupid":"f","nickname":"n","headpic":"h","flag":1,"level":"3"}))
            .unwrap(),
        Request::EnterGroup {
            group: Group::Recording {
                anchor: "a".into(),
                fileid: "f".into()
            },
            userid: "v".into(),
            nickname: "n".into(),
            headpic: "h".into(),
            level: Some(3),
        }
    );
    assert_eq!(
        parse(json!({"Action":"QuitGroup","userid":"v","flag":0,"liveuserid":"a","groupid":"g"}))
            .unwrap(),
        Request::QuitGroup {
            group: Group::Room {
                anchor: "a".into(),
                groupid: "g".into()
            },
            userid: "v".into()
        }
    );
    assert_eq!(
        parse(json!({"Action":"FetchGroupMemberList","liveuserid":"a","groupid":"g","pageno":1,"pagesize":20}))
            .unwrap(),
        Request::FetchGroupMemberList {
            anchor: "a".into(),
            groupid: "g".into(),
            page: Page { number: 1, size: 20 }
        }
    );
    assert_eq!(
        parse(json!({"Action":"GetUserInfo","userid":"u","type":"1","fileid":"f"})).unwrap(),
        Request::GetUserInfo {
            target: Counted::Recording {
                userid: "u".into(),
                fileid: "f".into()
            }
        }
    );
    assert_eq!(
        parse(json!({"Action":"GetUserInfo","userid":"u","fileid":""})).unwrap(),
        Request::GetUserInfo {
            target: Counted::Room { userid: "u".into() }
        }
    );
}

#[test]
fn fetch_list_flags() {
    let flag = |value: Value| match parse(json!({"Action":"FetchList","flag":value})).unwrap() {
        Request::FetchList { flag, .. } => flag,
        other => panic!("{other:?}"),
    };
    assert_eq!(flag(json!(1)), ListFlag::Online);
    assert_eq!(flag(json!("2")), ListFlag::Recordings);
    assert_eq!(flag(json!(3.0)), ListFlag::OnlineThenRecordings);
    assert_eq!(flag(json!(4)), ListFlag::AllRooms);
    for other in [json!(0), json!(5), json!(-1), json!(i64::MAX)] {
        assert_eq!(flag(other.clone()), ListFlag::Other, "{other}");
    }
    assert_eq!(
        code(parse(json!({"Action":"FetchList","flag":"one"}))),
        ErrorCode::InvalidParam
    );
    // Without a flag: 1000, as the original answered.
    for missing in [
        json!({"Action":"FetchList"}),
        json!({"Action":"FetchList","flag":null}),
        json!({"Action":"FetchList","flag":""}),
    ] {
        let error = parse(missing.clone()).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidParam, "{missing}");
        assert_eq!(
            error.msg, "invalid param in json from client! | flag is null or empty!",
            "{missing}"
        );
    }
}

#[test]
fn out_of_range_values_are_4002_naming_the_field() {
    for (body, field) in [
        (
            json!({"Action":"ChangeStatus","userid":"u","status":2}),
            "status",
        ),
        (
            json!({"Action":"ChangeCount","userid":"u","type":5,"optype":0}),
            "type",
        ),
        (
            json!({"Action":"ChangeCount","userid":"u","type":1,"optype":3}),
            "optype",
        ),
        (
            json!({"Action":"ChangeCount","userid":"u","type":1,"optype":0,"flag":2}),
            "flag",
        ),
        (
            json!({"Action":"EnterGroup","userid":"v","liveuserid":"a","groupid":"g","flag":2}),
            "flag",
        ),
        (
            json!({"Action":"QuitGroup","userid":"v","liveuserid":"a","groupid":"g","flag":-1}),
            "flag",
        ),
        (
            json!({"Action":"GetUserInfo","userid":"u","type":2}),
            "type",
        ),
    ] {
        let err = parse(body.clone()).unwrap_err();
        assert_eq!(err.code, ErrorCode::OutOfRange, "{body}");
        assert!(
            err.msg.contains(&format!("{field}:")),
            "{body}: {}",
            err.msg
        );
    }
    // A recording without its fileid is 1000, not 4002.
    assert_eq!(
        parse(json!({"Action":"ChangeCount","userid":"u","type":1,"optype":0,"flag":1}))
            .unwrap_err(),
        ProtocolError::missing("fileid")
    );
    assert_eq!(
        parse(json!({"Action":"GetUserInfo","userid":"u","type":1,"fileid":""})).unwrap_err(),
        ProtocolError::missing("fileid")
    );
}

#[test]
fn page_rules() {
    let page = |no, size| Page::new(no, size);
    assert_eq!(
        page(None, None),
        Page {
            number: 1,
            size: 10
        }
    );
    assert_eq!(
        page(Some(0), Some(0)),
        Page {
            number: 1,
            size: 10
        }
    );
    assert_eq!(
        page(Some(-5), Some(-5)),
        Page {
            number: 1,
            size: 10
        }
    );
    assert_eq!(
        page(Some(i64::MIN), Some(i64::MIN)),
        Page {
            number: 1,
            size: 10
        }
    );
    assert_eq!(page(Some(3), Some(1)), Page { number: 3, size: 1 });
    assert_eq!(page(Some(1), Some(9)), Page { number: 1, size: 9 });
    assert_eq!(
        page(Some(1), Some(100)),
        Page {
            number: 1,
            size: 100
        }
    );
    assert_eq!(
        page(Some(1), Some(101)),
        Page {
            number: 1,
            size: 100
        }
    );
    assert_eq!(
        page(Some(1), Some(i64::MAX)),
        Page {
            number: 1,
            size: 100
        }
    );
    assert_eq!(page(Some(1), Some(20)).offset(), 0);
    assert_eq!(page(Some(3), Some(20)).offset(), 40);
    assert_eq!(page(Some(i64::MAX), Some(100)).offset(), i64::MAX);
    assert!(page(Some(i64::MAX / 50), Some(100)).offset() > 0);
}

#[test]
fn unknown_keys_are_ignored() {
    assert_eq!(
        parse(json!({"Action":"GetCOSSign","x":{"y":[1,2,{"z":null}]},"userid":true})).unwrap(),
        Request::GetCosSign
    );
}

#[test]
fn every_action_is_known_by_name() {
    for name in ACTIONS {
        let object = object(json!({ "Action": name }));
        assert_eq!(action_label(&object), name);
        if let Err(error) = request_from_object(&object, &Limits::default()) {
            assert!(
                !error.msg.contains("invalid interface name"),
                "{name}: {error:?}"
            );
        }
    }
    // And every parsed Action is in the list.
    for body in [
        json!({"Action":"GetCOSSign"}),
        json!({"Action":"StopLVB","userid":"u"}),
    ] {
        assert!(ACTIONS.contains(&parse(body).unwrap().action()));
    }
}

// Replies.

fn pusher(playurl: &str, hls_play_url: &str, title: &str) -> std::sync::Arc<SharedPusher> {
    SharedPusher::new(PusherInfo {
        userid: "主播 🎤".into(),
        groupid: "@TGS#1".into(),
        timestamp: 1_767_225_600,
        kind: 1,
        viewercount: 3,
        likecount: -0,
        title: title.into(),
        playurl: playurl.into(),
        fileid: "f\u{1}".into(),
        status: true,
        hls_play_url: hls_play_url.into(),
        userinfo: UserInfo {
            nickname: "n".into(),
            headpic: String::new(),
            frontcover: "http://img/f.png".into(),
            location: "深圳".into(),
        },
    })
}

#[test]
fn rendered_replies_are_what_serde_writes() {
    let rows = vec![
        pusher("http://a.flv", "http://a.m3u8", "both"),
        pusher("", "http://b.m3u8", "hls \"only\""),
        pusher("http://c.flv", "", "flv\\only\n"),
        pusher("", "", "none"),
    ];
    let replies = [
        ReturnData::List(PusherList {
            totalcount: 40,
            pusherlist: vec![SharedPage::new(rows.clone())],
        }),
        // Flag 3: rooms, then recordings; an empty part adds nothing.
        ReturnData::List(PusherList {
            totalcount: 40,
            pusherlist: vec![
                SharedPage::new(rows[..1].to_vec()),
                SharedPage::new(Vec::new()),
                SharedPage::new(rows[1..].to_vec()),
            ],
        }),
        ReturnData::List(PusherList {
            totalcount: 4,
            pusherlist: vec![SharedPage::new(Vec::new()), SharedPage::new(rows.clone())],
        }),
        ReturnData::List(PusherList {
            totalcount: 0,
            pusherlist: Vec::new(),
        }),
        ReturnData::Pusher(rows[1].clone()),
        ReturnData::Ack(WriteAck::OK),
        ReturnData::Members(MemberList {
            totalcount: 3,
            memberlist: SharedMembers::new(vec![
                MemberInfo {
                    userid: "v1".into(),
                    nickname: "n\"1\"\n".into(),
                    headpic: "http://h/1.png".into(),
                },
                MemberInfo {
                    userid: "v2".into(),
                    nickname: String::new(),
                    headpic: "\u{1F600}".into(),
                },
            ]),
        }),
        ReturnData::Members(MemberList {
            totalcount: 0,
            memberlist: SharedMembers::new(Vec::new()),
        }),
    ];
    for data in replies {
        let envelope = Envelope::ok(data);
        let rendered = envelope.to_json().unwrap();
        assert_eq!(
            String::from_utf8(rendered).unwrap(),
            serde_json::to_string(&envelope).unwrap()
        );
        // Rendered twice, the same.
        assert_eq!(
            envelope.to_json().unwrap(),
            serde_json::to_vec(&envelope).unwrap()
        );
    }
    // Both URL fields carry the one URL a row has.
    let shown: Vec<Value> = rows
        .iter()
        .map(|row| serde_json::from_str(row.json()).unwrap())
        .collect();
    let urls: Vec<(&str, &str)> = shown
        .iter()
        .map(|v| {
            (
                v["playurl"].as_str().unwrap(),
                v["hls_play_url"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        urls,
        [
            ("http://a.flv", "http://a.m3u8"),
            ("http://b.m3u8", "http://b.m3u8"),
            ("http://c.flv", "http://c.flv"),
            ("", ""),
        ]
    );
    // What is shown parses back to what was rendered.
    assert_eq!(rows[1].shown().playurl, "http://b.m3u8");
    assert_eq!(rows[1].shown().title, "hls \"only\"");
    assert_eq!(shown[0]["status"], "1");
    assert_eq!(shown[0]["type"], 1);
}

/// A count changed in a rendered row is the row rendered with that count,
/// whatever the strings around it hold (a title naming the key included).
#[test]
fn a_count_changed_in_place_renders_as_the_changed_row() {
    let info = |viewers: i64, likes: i64| PusherInfo {
        userid: "u\"viewercount\":9".into(),
        groupid: "g".into(),
        timestamp: 1,
        kind: 0,
        viewercount: viewers,
        likecount: likes,
        title: "\"likecount\":1, \"viewercount\":2".into(),
        playurl: "p".into(),
        fileid: String::new(),
        status: true,
        hls_play_url: "h".into(),
        userinfo: UserInfo {
            nickname: "likecount".into(),
            headpic: String::new(),
            frontcover: String::new(),
            location: String::new(),
        },
    };
    let row = SharedPusher::new(info(9, 0));
    let viewers = row.with_count(Count::Viewers, 1).unwrap();
    assert_eq!(viewers.json(), SharedPusher::new(info(10, 0)).json());
    let likes = viewers.with_count(Count::Likes, 123_456).unwrap();
    assert_eq!(likes.json(), SharedPusher::new(info(10, 123_456)).json());
    let fewer = likes.with_count(Count::Viewers, -10).unwrap();
    assert_eq!(fewer.json(), SharedPusher::new(info(0, 123_456)).json());
    assert_eq!((fewer.userid(), fewer.kind()), (row.userid(), row.kind()));
    // Below 0 the database floors it: not patched.
    assert!(fewer.with_count(Count::Viewers, -1).is_none());
}
