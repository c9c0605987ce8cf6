//! Reply shapes, field for field as the apps read them. Field order follows
//! the protocol document; JSON types are what the apps' parsers expect
//! (numbers for counts and timestamps, the string "0"/"1" for `status`).

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use super::{ErrorCode, ProtocolError};

/// `{"returnValue", "returnMsg", "returnData"}`: the reply to every request.
/// `returnData` is an object on success and `[]` on error, as the original sent.
#[derive(Debug, Serialize)]
pub struct Envelope<T: Serialize> {
    #[serde(rename = "returnValue")]
    pub return_value: i32,
    #[serde(rename = "returnMsg")]
    pub return_msg: String,
    #[serde(rename = "returnData")]
    pub return_data: T,
}

pub const SUCCESS_MSG: &str = "return successfully!";

impl<T: Serialize> Envelope<T> {
    pub fn ok(data: T) -> Self {
        Self {
            return_value: 0,
            return_msg: SUCCESS_MSG.to_owned(),
            return_data: data,
        }
    }
}

/// The `[]` that stands for `returnData` in an error reply.
#[derive(Debug, Clone, Copy)]
pub struct EmptyArray;

impl Serialize for EmptyArray {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        s.serialize_seq(Some(0))?.end()
    }
}

impl Envelope<EmptyArray> {
    pub fn error(err: &ProtocolError) -> Self {
        Self::error_code(err.code, err.msg.clone())
    }

    pub fn error_code(code: ErrorCode, msg: impl Into<String>) -> Self {
        Self {
            return_value: code.value(),
            return_msg: msg.into(),
            return_data: EmptyArray,
        }
    }
}

/// What a successful action answers in `returnData`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ReturnData {
    PushAddr(PushAddr),
    Ack(WriteAck),
    List(PusherList),
    CosSign(CosSign),
    Members(MemberList),
    Pusher(Arc<SharedPusher>),
    LinkMicAddr(LinkMicAddr),
    SignedPlayUrl(SignedPlayUrl),
    CosSignV2(CosSignV2),
    VodSignature(VodSignature),
}

/// RequestLVBAddrForLinkMic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkMicAddr {
    pub pushurl: String,
    pub timestamp: i64,
    /// `rtmp://` on the play domain.
    pub playurl: String,
}

/// RequestPlayUrlWithSignForLinkMic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignedPlayUrl {
    #[serde(rename = "streamUrlWithSignature")]
    pub stream_url_with_signature: String,
    pub timestamp: i64,
}

/// GetCOSSignV2: the COS v5 signing key; the client finishes the request
/// signature (`q-ak` is the secret id, `q-key-time` the key time).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CosSignV2 {
    #[serde(rename = "signKey")]
    pub sign_key: String,
    #[serde(rename = "keyTime")]
    pub key_time: String,
    #[serde(rename = "secretId")]
    pub secret_id: String,
    pub bucket: String,
    pub region: String,
}

/// GetVodSignatureV2: the VOD client-upload signature.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VodSignature {
    pub signature: String,
}

/// RequestLVBAddr: iOS accepts `timestamp` only as a JSON number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PushAddr {
    pub pushurl: String,
    pub timestamp: i64,
}

/// The original's reply to every write action: `{"result":0}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriteAck {
    pub result: i32,
}

impl WriteAck {
    pub const OK: WriteAck = WriteAck { result: 0 };
}

/// FetchList's reply: `pusherlist` is the pages' rows in order (flag 3
/// joins a page of rooms and one of recordings).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PusherList {
    pub totalcount: i64,
    #[serde(serialize_with = "all_rows")]
    pub pusherlist: Vec<Arc<SharedPage>>,
}

impl PusherList {
    /// Every row listed, in order.
    pub fn rows(&self) -> impl Iterator<Item = &Arc<SharedPusher>> {
        self.pusherlist.iter().flat_map(|page| page.rows())
    }
}

fn all_rows<S: Serializer>(pages: &[Arc<SharedPage>], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(pages.iter().flat_map(|page| page.rows()))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CosSign {
    pub sign: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberList {
    pub totalcount: i64,
    pub memberlist: Arc<SharedMembers>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemberInfo {
    pub userid: String,
    pub nickname: String,
    pub headpic: String,
}

/// The anchor's profile as RequestLVBAddr sent it. All four keys are always
/// present (Android reads `nickname` without a null check).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub nickname: String,
    pub headpic: String,
    pub frontcover: String,
    pub location: String,
}

/// One live room (`type` 0) or recording (`type` 1) in FetchList and GetUserInfo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PusherInfo {
    pub userid: String,
    pub groupid: String,
    /// Session start for rooms, recording end for recordings.
    pub timestamp: i64,
    #[serde(rename = "type")]
    pub kind: i32,
    pub viewercount: i64,
    pub likecount: i64,
    pub title: String,
    pub playurl: String,
    pub fileid: String,
    /// "1" online, "0" offline; recordings are "0".
    #[serde(serialize_with = "status_string", deserialize_with = "string_status")]
    pub status: bool,
    pub hls_play_url: String,
    pub userinfo: UserInfo,
}

/// A count that a pusherinfo shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Count {
    Viewers,
    Likes,
}

/// A pusherinfo as the apps receive it, shared by every reply that shows it
/// (the list snapshots keep it for a while): its key and its JSON, rendered
/// once when it is made. Only the JSON is kept, so that a cache of every
/// row of a large list stays small (about the JSON's size a row).
///
/// The apps' URL rule applies: Android 3.x plays `hls_play_url` and older
/// builds `playurl`, so whenever a room or recording has one URL (a
/// recording made as `flv` or `hls` only), both fields carry it. The apps
/// accept either kind for recordings.
#[derive(Debug)]
pub struct SharedPusher {
    /// 0 a room, 1 a recording.
    kind: i32,
    userid: Box<str>,
    /// Empty for a room.
    fileid: Box<str>,
    /// Written by serde_json (or patched in a number by `with_count`): JSON
    /// by construction, so not checked again as a `RawValue` would be.
    json: Box<str>,
}

impl SharedPusher {
    pub fn new(info: PusherInfo) -> Arc<Self> {
        let text = [
            &info.userid,
            &info.groupid,
            &info.title,
            &info.playurl,
            &info.fileid,
            &info.hls_play_url,
            &info.userinfo.nickname,
            &info.userinfo.headpic,
            &info.userinfo.frontcover,
            &info.userinfo.location,
        ];
        // The keys, the numbers, and a URL that may be written twice.
        let guess = text.iter().map(|t| t.len()).sum::<usize>()
            + info.playurl.len().max(info.hls_play_url.len())
            + 256;
        let mut out = Vec::with_capacity(guess);
        let shown = with_both_urls(&info);
        serde_json::to_writer(&mut out, shown.as_ref().unwrap_or(&info))
            .expect("a pusherinfo serializes");
        let json = String::from_utf8(out)
            .expect("serde_json writes UTF-8")
            .into_boxed_str();
        Arc::new(Self {
            kind: info.kind,
            userid: info.userid.into_boxed_str(),
            fileid: info.fileid.into_boxed_str(),
            json,
        })
    }

    /// 0 a room, 1 a recording.
    pub fn kind(&self) -> i32 {
        self.kind
    }

    pub fn userid(&self) -> &str {
        &self.userid
    }

    /// The recording's file id; empty for a room.
    pub fn fileid(&self) -> &str {
        &self.fileid
    }

    /// What the apps receive, as JSON.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// The same row with `delta` added to one of its counts: what
    /// [`SharedPusher::new`] renders for the changed row. None if the count
    /// would go below 0 (the database floors it: reading it is surer).
    pub fn with_count(&self, count: Count, delta: i64) -> Option<Arc<Self>> {
        let json = self.json();
        // The key's quotes cannot be a string's: those are escaped.
        let key = match count {
            Count::Viewers => "\"viewercount\":",
            Count::Likes => "\"likecount\":",
        };
        let start = json.find(key)? + key.len();
        let len = json[start..]
            .find(|c: char| c != '-' && !c.is_ascii_digit())
            .unwrap_or(json.len() - start);
        let value = json[start..start + len].parse::<i64>().ok()?;
        let changed = value.checked_add(delta).filter(|&v| v >= 0)?;
        let number = changed.to_string();
        // Exactly the size, so that the boxing below does not reallocate.
        let mut out = String::with_capacity(json.len() - len + number.len());
        out.push_str(&json[..start]);
        out.push_str(&number);
        out.push_str(&json[start + len..]);
        Some(Arc::new(Self {
            kind: self.kind,
            userid: self.userid.clone(),
            fileid: self.fileid.clone(),
            json: out.into_boxed_str(),
        }))
    }

    /// What the apps receive, parsed back from [`SharedPusher::json`] (for
    /// tests and tools that look into a shared rendering).
    pub fn shown(&self) -> PusherInfo {
        serde_json::from_str(self.json()).expect("rendered by SharedPusher::new")
    }

    /// About the memory it holds (for caches' bounds).
    pub fn size(&self) -> usize {
        std::mem::size_of::<Self>() + self.userid.len() + self.fileid.len() + self.json().len()
    }
}

/// The row with the URL rule applied, when it changes it.
fn with_both_urls(info: &PusherInfo) -> Option<PusherInfo> {
    let (playurl, hls_play_url) = match (info.playurl.is_empty(), info.hls_play_url.is_empty()) {
        (true, false) => (&info.hls_play_url, &info.hls_play_url),
        (false, true) => (&info.playurl, &info.playurl),
        _ => return None,
    };
    Some(PusherInfo {
        playurl: playurl.clone(),
        hls_play_url: hls_play_url.clone(),
        ..info.clone()
    })
}

impl PartialEq for SharedPusher {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

/// Through serde (replies are written by [`Envelope::to_json`], which
/// copies the rendering): as the rendering, embedded raw.
impl Serialize for SharedPusher {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw =
            RawValue::from_string(self.json.to_string()).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

/// Pusherinfos shown together (a page of a list, or the part of one a flag
/// 3 page takes from the rooms or the recordings), rendered at most once:
/// the list snapshots keep pages as they keep rows.
#[derive(Debug, PartialEq)]
pub struct SharedPage {
    rows: Vec<Arc<SharedPusher>>,
    json: OnceLock<String>,
}

impl SharedPage {
    pub fn new(rows: Vec<Arc<SharedPusher>>) -> Arc<Self> {
        Arc::new(Self {
            rows,
            json: OnceLock::new(),
        })
    }

    pub fn rows(&self) -> &[Arc<SharedPusher>] {
        &self.rows
    }

    /// The rows' JSON, comma-separated, rendered at the first call.
    pub fn json(&self) -> &str {
        self.json.get_or_init(|| {
            let size = self.rows.iter().map(|row| row.json().len() + 1).sum();
            let mut out = String::with_capacity(size);
            for (at, row) in self.rows.iter().enumerate() {
                if at > 0 {
                    out.push(',');
                }
                out.push_str(row.json());
            }
            out
        })
    }
}

/// A page of members, rendered at most once: the member pages kept in
/// memory hand the same page to everyone who asks until it changes.
#[derive(Debug)]
pub struct SharedMembers {
    members: Vec<MemberInfo>,
    json: OnceLock<String>,
}

impl SharedMembers {
    pub fn new(members: Vec<MemberInfo>) -> Arc<Self> {
        Arc::new(Self {
            members,
            json: OnceLock::new(),
        })
    }

    pub fn members(&self) -> &[MemberInfo] {
        &self.members
    }

    /// The members' JSON objects, comma-separated, rendered at the first call.
    pub fn json(&self) -> &str {
        self.json.get_or_init(|| {
            let mut out = Vec::with_capacity(self.members.len() * 96);
            for (at, member) in self.members.iter().enumerate() {
                if at > 0 {
                    out.push(b',');
                }
                // Three strings into a Vec: cannot fail.
                let _ = serde_json::to_writer(&mut out, member);
            }
            String::from_utf8(out).unwrap_or_default()
        })
    }
}

/// The same members, rendered yet or not.
impl PartialEq for SharedMembers {
    fn eq(&self, other: &Self) -> bool {
        self.members == other.members
    }
}

impl Serialize for SharedMembers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.members.serialize(s)
    }
}

impl Envelope<ReturnData> {
    /// The reply's JSON, as `serde_json::to_vec` writes it; pusherinfos are
    /// copied from their rendering rather than serialized again.
    pub fn to_json(&self) -> serde_json::Result<Vec<u8>> {
        use std::io::Write as _;
        let size = match &self.return_data {
            ReturnData::List(list) => list.pusherlist.iter().map(|p| p.json().len() + 1).sum(),
            ReturnData::Pusher(pusher) => pusher.json().len(),
            ReturnData::Members(list) => list.memberlist.json().len(),
            _ => return serde_json::to_vec(self),
        };
        let mut out = Vec::with_capacity(size + self.return_msg.len() + 128);
        write!(out, r#"{{"returnValue":{},"returnMsg":"#, self.return_value)
            .map_err(serde_json::Error::io)?;
        serde_json::to_writer(&mut out, &self.return_msg)?;
        out.extend_from_slice(br#","returnData":"#);
        match &self.return_data {
            ReturnData::List(list) => {
                write!(out, r#"{{"totalcount":{},"pusherlist":["#, list.totalcount)
                    .map_err(serde_json::Error::io)?;
                let mut first = true;
                for page in list.pusherlist.iter().filter(|page| !page.rows.is_empty()) {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(page.json().as_bytes());
                }
                out.extend_from_slice(b"]}");
            }
            ReturnData::Pusher(pusher) => out.extend_from_slice(pusher.json().as_bytes()),
            ReturnData::Members(list) => {
                write!(out, r#"{{"totalcount":{},"memberlist":["#, list.totalcount)
                    .map_err(serde_json::Error::io)?;
                out.extend_from_slice(list.memberlist.json().as_bytes());
                out.extend_from_slice(b"]}");
            }
            _ => unreachable!("serialized above"),
        }
        out.push(b'}');
        Ok(out)
    }
}

fn status_string<S: Serializer>(online: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *online { "1" } else { "0" })
}

fn string_status<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match <&str>::deserialize(d)? {
        "1" => Ok(true),
        "0" => Ok(false),
        other => Err(serde::de::Error::invalid_value(
            serde::de::Unexpected::Str(other),
            &"\"0\" or \"1\"",
        )),
    }
}
