//! The Mini LVB wire contract in one place: the envelope, the error codes,
//! the typed requests parsed from the apps' JSON, and the reply shapes.
//!
//! Nothing here knows about SQL or HTTP, and nothing does I/O. `parse_request`
//! turns a body into a [`Request`] or a [`ProtocolError`] (codes 1000 / 4001 /
//! 4002) before any work is done; the actions then answer with a [`ReturnData`].
//! The cloud's signing rules and event rules live in [`cloud`].

pub mod cloud;
mod fields;
mod json;
mod reply;

pub use fields::Fields;
pub use json::{Json, Object};
pub use reply::{
    CosSign, CosSignV2, Count, Envelope, LinkMicAddr, MemberInfo, MemberList, PushAddr, PusherInfo,
    PusherList, ReturnData, SharedMembers, SharedPage, SharedPusher, SignedPlayUrl, UserInfo,
    VodSignature, WriteAck,
};

use std::borrow::Cow;

/// `returnValue` codes, as the original server used them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A required field is missing or empty, or has the wrong type.
    InvalidParam = 1000,
    /// The database failed, or (as in the original GetUserInfo) the room or
    /// recording asked for does not exist.
    Database = 2003,
    /// The body is not JSON, or is an empty/falsy JSON value.
    InvalidJson = 4001,
    /// A parameter value is outside its allowed range.
    OutOfRange = 4002,
    /// Too many requests (later builds of the original), or the server is
    /// too busy to take the request.
    FrequencyControl = 4003,
    /// The operator banned this user from broadcasting.
    Banned = 4004,
    /// Caller authentication is on and the request's proof of identity is
    /// missing, invalid, expired or another user's (minilvb's own code).
    Unauthorized = 4005,
}

impl ErrorCode {
    pub fn value(self) -> i32 {
        self as i32
    }
}

/// An error the client caused or must be told about, in the protocol's terms.
/// The message is sent to the client verbatim, so it never carries internal
/// causes (those are logged where the error is made).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {msg}")]
pub struct ProtocolError {
    pub code: ErrorCode,
    pub msg: String,
}

impl ProtocolError {
    pub fn new(code: ErrorCode, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }

    /// 1000 for a missing or empty field, worded as the original did.
    pub fn missing(field: &str) -> Self {
        Self::new(
            ErrorCode::InvalidParam,
            format!("invalid param in json from client! | {field} is null or empty!"),
        )
    }

    /// 1000 for a field of the wrong type.
    pub fn not_int(field: &str, value: &Json) -> Self {
        Self::new(
            ErrorCode::InvalidParam,
            format!(
                "invalid param in json from client! | {field}:{} is not int!",
                short(value)
            ),
        )
    }

    pub fn not_string(field: &str, value: &Json) -> Self {
        Self::new(
            ErrorCode::InvalidParam,
            format!(
                "invalid param in json from client! | {field}:{} is not string!",
                short(value)
            ),
        )
    }

    pub fn too_long(field: &str, max: usize) -> Self {
        Self::new(
            ErrorCode::InvalidParam,
            format!("invalid param in json from client! | {field} is longer than {max} bytes!"),
        )
    }

    pub fn out_of_range(field: &str, value: i64) -> Self {
        Self::new(
            ErrorCode::OutOfRange,
            format!("invalid param value! | {field}:{value} is out of range!"),
        )
    }

    pub fn invalid_json(why: &str) -> Self {
        Self::new(
            ErrorCode::InvalidJson,
            format!("invalid json body! | {why}"),
        )
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(ErrorCode::Database, format!("not found! | {what}"))
    }

    pub fn database() -> Self {
        Self::new(ErrorCode::Database, "database error! | please retry later")
    }
}

/// A value as it may appear in an error message: bounded, so that a huge
/// field cannot make a huge reply.
fn short(value: &Json) -> String {
    let text = match value {
        Json::String(s) => s.to_string(),
        other => other.to_value().to_string(),
    };
    if text.len() <= 64 {
        text
    } else {
        let mut end = 64;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &text[..end])
    }
}

/// Byte limits on the fields the apps send. Longer values are a 1000 error
/// naming the field, so that nothing is silently truncated.
pub mod limits {
    pub const ID: usize = 128;
    pub const NAME: usize = 256;
    pub const URL: usize = 1024;
    /// JSON nesting depth (the apps send 2: the request and `userinfo`).
    pub const DEPTH: usize = 32;
}

/// The limits a request is parsed under (`[limits]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// userid, groupid, fileid, liveuserid.
    pub id: usize,
    /// Titles and names.
    pub name: usize,
    /// URLs (headpic, frontcover).
    pub url: usize,
    /// Nesting depth of arrays and objects.
    pub depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            id: limits::ID,
            name: limits::NAME,
            url: limits::URL,
            depth: limits::DEPTH,
        }
    }
}

/// A page request as both FetchList and FetchGroupMemberList take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based.
    pub number: i64,
    /// 1..=100.
    pub size: i64,
}

impl Page {
    pub const DEFAULT_SIZE: i64 = 10;
    pub const MAX_SIZE: i64 = 100;

    /// Page numbers from 1 (`pageno` <= 0 means 1); `pagesize` 1..=100
    /// honoured, 0 or negative means 10 (the original's default), above 100
    /// means 100.
    pub fn new(pageno: Option<i64>, pagesize: Option<i64>) -> Self {
        let number = pageno.unwrap_or(1).max(1);
        let size = match pagesize.unwrap_or(Self::DEFAULT_SIZE) {
            s if s <= 0 => Self::DEFAULT_SIZE,
            s => s.min(Self::MAX_SIZE),
        };
        Self { number, size }
    }

    /// Rows to skip; saturates, so a huge page number is simply past the end.
    pub fn offset(&self) -> i64 {
        (self.number - 1).saturating_mul(self.size)
    }
}

/// What a viewer joins: a live room or a recording, both owned by an anchor.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// flag 0: the anchor's live room, by its IM group id.
    Room { anchor: String, groupid: String },
    /// flag 1: one of the anchor's recordings, by file id.
    Recording { anchor: String, fileid: String },
}

impl Group {
    pub fn anchor(&self) -> &str {
        match self {
            Group::Room { anchor, .. } | Group::Recording { anchor, .. } => anchor,
        }
    }

    /// The id members are filed under: the group id or the file id.
    pub fn key(&self) -> &str {
        match self {
            Group::Room { groupid, .. } => groupid,
            Group::Recording { fileid, .. } => fileid,
        }
    }
}

impl std::fmt::Display for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Group::Room { anchor, groupid } => write!(f, "room of {anchor} with groupid {groupid}"),
            Group::Recording { anchor, fileid } => {
                write!(f, "recording {fileid} of {anchor}")
            }
        }
    }
}

/// What ChangeCount counts on: the live room (flag 0) or a recording (flag 1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Counted {
    Room { userid: String },
    Recording { userid: String, fileid: String },
}

impl Counted {
    pub fn userid(&self) -> &str {
        match self {
            Counted::Room { userid } | Counted::Recording { userid, .. } => userid,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFlag {
    /// 1: online rooms.
    Online,
    /// 2: recordings of the last days.
    Recordings,
    /// 3: online rooms, then recordings, one paging.
    OnlineThenRecordings,
    /// 4: every room, whatever its status.
    AllRooms,
    /// Anything else: an empty list, as the original answered.
    Other,
}

/// A request from an app, parsed and checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    RequestLvbAddr {
        userid: String,
        groupid: String,
        title: String,
        userinfo: UserInfo,
    },
    ChangeStatus {
        userid: String,
        online: bool,
    },
    /// type 1: likes. `delta` is +1 or -1.
    ChangeLikes {
        target: Counted,
        delta: i64,
    },
    /// type 0 (deprecated): viewer counts follow membership; accepted, no effect.
    ChangeViewersDeprecated {
        target: Counted,
    },
    FetchList {
        flag: ListFlag,
        page: Page,
    },
    GetCosSign,
    /// A viewer joining the VJ on camera: a push URL for a per-session
    /// link-mic stream and its play URL. Nothing is stored as a room.
    RequestLinkMicAddr {
        userid: String,
    },
    /// Signs a play URL on the configured play domain with the anti-leech rule.
    SignLinkMicPlayUrl {
        userid: String,
        origin_url: String,
    },
    /// The room goes offline (as ChangeStatus 1).
    StopLvb {
        userid: String,
    },
    /// A viewer reports a VJ; recorded for the operator, nothing deleted.
    ReportUser {
        /// "" for an anonymous report.
        reporter: String,
        reported: String,
    },
    GetCosSignV2,
    GetVodSignatureV2,
    EnterGroup {
        group: Group,
        userid: String,
        nickname: String,
        headpic: String,
        /// Optional extra field for the `level` member order.
        level: Option<i64>,
    },
    QuitGroup {
        group: Group,
        userid: String,
    },
    FetchGroupMemberList {
        anchor: String,
        groupid: String,
        page: Page,
    },
    GetUserInfo {
        target: Counted,
    },
}

impl Request {
    /// The userid the request acts for or is about, for logs.
    pub fn userid(&self) -> Option<&str> {
        self.caller().or(match self {
            Request::ChangeLikes { target, .. }
            | Request::ChangeViewersDeprecated { target }
            | Request::GetUserInfo { target } => Some(target.userid()),
            Request::FetchGroupMemberList { anchor, .. } => Some(anchor),
            _ => None,
        })
    }

    /// The userid the request acts as, which caller authentication checks:
    /// the VJ of RequestLVBAddr, ChangeStatus, StopLVB and the link-mic
    /// requests, the viewer of EnterGroup and QuitGroup, the reporter of
    /// ReportUser (when given). ChangeCount's and the reads' userid names
    /// whom they are about, not who asks.
    pub fn caller(&self) -> Option<&str> {
        match self {
            Request::RequestLvbAddr { userid, .. }
            | Request::ChangeStatus { userid, .. }
            | Request::StopLvb { userid }
            | Request::RequestLinkMicAddr { userid }
            | Request::SignLinkMicPlayUrl { userid, .. }
            | Request::EnterGroup { userid, .. }
            | Request::QuitGroup { userid, .. } => Some(userid),
            Request::ReportUser { reporter, .. } if !reporter.is_empty() => Some(reporter),
            _ => None,
        }
    }

    /// The Action name, for logs and metrics.
    pub fn action(&self) -> &'static str {
        match self {
            Request::RequestLvbAddr { .. } => "RequestLVBAddr",
            Request::ChangeStatus { .. } => "ChangeStatus",
            Request::ChangeLikes { .. } | Request::ChangeViewersDeprecated { .. } => "ChangeCount",
            Request::FetchList { .. } => "FetchList",
            Request::GetCosSign => "GetCOSSign",
            Request::RequestLinkMicAddr { .. } => "RequestLVBAddrForLinkMic",
            Request::SignLinkMicPlayUrl { .. } => "RequestPlayUrlWithSignForLinkMic",
            Request::StopLvb { .. } => "StopLVB",
            Request::ReportUser { .. } => "ReportUser",
            Request::GetCosSignV2 => "GetCOSSignV2",
            Request::GetVodSignatureV2 => "GetVodSignatureV2",
            Request::EnterGroup { .. } => "EnterGroup",
            Request::QuitGroup { .. } => "QuitGroup",
            Request::FetchGroupMemberList { .. } => "FetchGroupMemberList",
            Request::GetUserInfo { .. } => "GetUserInfo",
        }
    }
}

/// Parses a request body. The body may be anything: the original answered
/// 4001 to non-JSON and to empty or falsy JSON, 1000 to a missing or unknown
/// Action, and ignored unknown keys.
pub fn parse_request(body: &[u8]) -> Result<Request, ProtocolError> {
    parse_request_with(body, &Limits::default())
}

/// [`parse_request`] under configured limits. Besides the field lengths, the
/// body must be UTF-8 JSON nested at most `limits.depth` deep, without
/// duplicate keys (which parsers disagree on); else 4001.
pub fn parse_request_with(body: &[u8], limits: &Limits) -> Result<Request, ProtocolError> {
    request_from_object(&read_object(body, limits)?, limits)
}

/// The first step of [`parse_request_with`]: the body as a non-empty JSON object.
pub fn read_object<'a>(body: &'a [u8], limits: &Limits) -> Result<Object<'a>, ProtocolError> {
    match json::parse(body, limits.depth).map_err(|e| ProtocolError::invalid_json(&e))? {
        Json::Object(map) if !map.is_empty() => Ok(map),
        Json::Object(_) => Err(ProtocolError::invalid_json("empty object")),
        _ => Err(ProtocolError::invalid_json("expected a JSON object")),
    }
}

/// Every Action the server knows.
pub const ACTIONS: [&str; 15] = [
    "RequestLVBAddr",
    "ChangeStatus",
    "ChangeCount",
    "FetchList",
    "GetCOSSign",
    "EnterGroup",
    "QuitGroup",
    "FetchGroupMemberList",
    "GetUserInfo",
    "RequestLVBAddrForLinkMic",
    "RequestPlayUrlWithSignForLinkMic",
    "StopLVB",
    "ReportUser",
    "GetCOSSignV2",
    "GetVodSignatureV2",
];

/// The object's Action if it is a known one, else `-`: a label for logs and
/// metrics that a client cannot make up.
pub fn action_label(object: &Object) -> &'static str {
    match object.get("Action") {
        Some(Json::String(name)) => ACTIONS
            .iter()
            .find(|known| **known == name.as_ref())
            .copied()
            .unwrap_or("-"),
        _ => "-",
    }
}

/// The second step of [`parse_request_with`]: the typed request.
pub fn request_from_object(object: &Object, limits: &Limits) -> Result<Request, ProtocolError> {
    let fields = Fields::new(object);
    let action = fields.required_str("Action", self::limits::NAME)?;
    match action.as_str() {
        "RequestLVBAddr" => parse_request_lvb_addr(&fields, limits),
        "ChangeStatus" => Ok(Request::ChangeStatus {
            userid: fields.required_str("userid", limits.id)?,
            // The app sends 0 on push begin, 1 on stop; stored inverted.
            online: match fields.required_int("status")? {
                0 => true,
                1 => false,
                other => return Err(ProtocolError::out_of_range("status", other)),
            },
        }),
        "ChangeCount" => parse_change_count(&fields, limits),
        "FetchList" => Ok(Request::FetchList {
            // Required, as the original had it; an unknown value is an empty list.
            flag: match fields.required_int("flag")? {
                1 => ListFlag::Online,
                2 => ListFlag::Recordings,
                3 => ListFlag::OnlineThenRecordings,
                4 => ListFlag::AllRooms,
                _ => ListFlag::Other,
            },
            page: parse_page(&fields)?,
        }),
        "GetCOSSign" => Ok(Request::GetCosSign),
        "GetCOSSignV2" => Ok(Request::GetCosSignV2),
        "GetVodSignatureV2" => Ok(Request::GetVodSignatureV2),
        // Title and profile are sent as for RequestLVBAddr; a link-mic
        // stream is not listed, so they are not kept.
        "RequestLVBAddrForLinkMic" => Ok(Request::RequestLinkMicAddr {
            userid: fields.required_str("userid", limits.id)?,
        }),
        "RequestPlayUrlWithSignForLinkMic" => Ok(Request::SignLinkMicPlayUrl {
            userid: fields.required_str("userid", limits.id)?,
            origin_url: fields.required_str("originStreamUrl", limits.url)?,
        }),
        "StopLVB" => Ok(Request::StopLvb {
            userid: fields.required_str("userid", limits.id)?,
        }),
        "ReportUser" => Ok(Request::ReportUser {
            reporter: fields.optional_str("userid", limits.id)?,
            reported: fields.required_str("hostuserid", limits.id)?,
        }),

        "EnterGroup" => Ok(Request::EnterGroup {
            userid: fields.required_str("userid", limits.id)?,
            group: parse_group(&fields, limits)?,
            nickname: fields.optional_str("nickname", limits.name)?,
            headpic: fields.optional_str("headpic", limits.url)?,
            level: fields.optional_int("level")?,
        }),
        "QuitGroup" => Ok(Request::QuitGroup {
            userid: fields.required_str("userid", limits.id)?,
            group: parse_group(&fields, limits)?,
        }),
        "FetchGroupMemberList" => Ok(Request::FetchGroupMemberList {
            anchor: fields.required_str("liveuserid", limits.id)?,
            groupid: fields.required_str("groupid", limits.id)?,
            page: parse_page(&fields)?,
        }),
        "GetUserInfo" => {
            let userid = fields.required_str("userid", limits.id)?;
            let target = match fields.optional_int("type")?.unwrap_or(0) {
                0 => Counted::Room { userid },
                1 => Counted::Recording {
                    userid,
                    fileid: fields.required_str("fileid", limits.id)?,
                },
                other => return Err(ProtocolError::out_of_range("type", other)),
            };
            Ok(Request::GetUserInfo { target })
        }
        other => Err(ProtocolError::new(
            ErrorCode::InvalidParam,
            format!(
                "invalid interface name:{}",
                short(&Json::String(Cow::Borrowed(other)))
            ),
        )),
    }
}

fn parse_request_lvb_addr(fields: &Fields<'_>, limits: &Limits) -> Result<Request, ProtocolError> {
    let userid = fields.required_str("userid", limits.id)?;
    let groupid = fields.required_str("groupid", limits.id)?;
    let title = fields.optional_str("title", limits.name)?;
    let userinfo = match fields.optional_object("userinfo")? {
        Some(map) => {
            let info = Fields::nested(map, "userinfo.");
            UserInfo {
                nickname: info.optional_str("nickname", limits.name)?,
                headpic: info.optional_str("headpic", limits.url)?,
                frontcover: info.optional_str("frontcover", limits.url)?,
                location: info.optional_str("location", limits.name)?,
            }
        }
        None => UserInfo::default(),
    };
    Ok(Request::RequestLvbAddr {
        userid,
        groupid,
        title,
        userinfo,
    })
}

fn parse_change_count(fields: &Fields<'_>, limits: &Limits) -> Result<Request, ProtocolError> {
    let userid = fields.required_str("userid", limits.id)?;
    let kind = fields.required_int("type")?;
    let optype = fields.required_int("optype")?;
    let flag = fields.optional_int("flag")?.unwrap_or(0);
    if !(0..=1).contains(&kind) {
        return Err(ProtocolError::out_of_range("type", kind));
    }
    let delta = match optype {
        0 => 1,
        1 => -1,
        other => return Err(ProtocolError::out_of_range("optype", other)),
    };
    let target = match flag {
        0 => Counted::Room { userid },
        1 => Counted::Recording {
            userid,
            fileid: fields.required_str("fileid", limits.id)?,
        },
        other => return Err(ProtocolError::out_of_range("flag", other)),
    };
    Ok(if kind == 1 {
        Request::ChangeLikes { target, delta }
    } else {
        Request::ChangeViewersDeprecated { target }
    })
}

/// EnterGroup and QuitGroup: `flag` 0 joins the room by groupid, 1 the
/// recording whose fileid the app sends as `groupid`.
fn parse_group(fields: &Fields<'_>, limits: &Limits) -> Result<Group, ProtocolError> {
    let anchor = fields.required_str("liveuserid", limits.id)?;
    let groupid = fields.required_str("groupid", limits.id)?;
    match fields.optional_int("flag")?.unwrap_or(0) {
        0 => Ok(Group::Room { anchor, groupid }),
        1 => Ok(Group::Recording {
            anchor,
            fileid: groupid,
        }),
        other => Err(ProtocolError::out_of_range("flag", other)),
    }
}

fn parse_page(fields: &Fields<'_>) -> Result<Page, ProtocolError> {
    Ok(Page::new(
        fields.optional_int("pageno")?,
        fields.optional_int("pagesize")?,
    ))
}

#[cfg(test)]
mod tests;
