//! The column lists the reads select, and rows turned into the protocol's
//! shapes; the small SQL fragments several concerns share.

use super::*;

/// Where a group's members are counted: (table, key column).
pub(super) fn group_table(group: &Group) -> (&'static str, &'static str) {
    match group {
        Group::Room { .. } => ("rooms", "groupid"),
        Group::Recording { .. } => ("recordings", "fileid"),
    }
}

pub(super) fn group_kind(group: &Group) -> i64 {
    match group {
        Group::Room { .. } => 0,
        Group::Recording { .. } => 1,
    }
}

/// The row a `Counted` target names: its table, key condition and key values.
pub(super) fn counted_row(target: &Counted) -> (&'static str, &'static str, Vec<Arg<'_>>) {
    match target {
        Counted::Room { userid } => ("rooms", "userid = ?", args![userid].to_vec()),
        Counted::Recording { userid, fileid } => (
            "recordings",
            "userid = ? AND fileid = ?",
            args![userid, fileid].to_vec(),
        ),
    }
}

/// `column = column + ?`, floored at 0, in one statement (binds the delta twice).
pub(super) fn floored(column: &str) -> String {
    format!("{column} = CASE WHEN {column} + ? < 0 THEN 0 ELSE {column} + ? END")
}

/// `each` once per item, joined by `separator`, and the values bound,
/// `bind(item, real, args)`. The items are padded to a power of two by
/// repeating the last (`real` false), so that statements over batches of
/// any size come in a few shapes, which each connection's statement cache
/// keeps.
pub(super) fn padded<'a, T>(
    items: &'a [T],
    each: &str,
    separator: &str,
    bind: impl Fn(&'a T, bool, &mut Vec<Arg<'a>>),
) -> (String, Vec<Arg<'a>>) {
    let n = items.len().next_power_of_two();
    let mut args = Vec::new();
    for (i, item) in items.iter().enumerate() {
        bind(item, true, &mut args);
        if i + 1 == items.len() {
            for _ in items.len()..n {
                bind(item, false, &mut args);
            }
        }
    }
    (vec![each; n].join(separator), args)
}

/// `(condition) OR (condition) ...` for the items (padded as [`padded`]'s:
/// a condition twice changes nothing).
pub(super) fn any_of<'a, T>(
    items: &'a [T],
    condition: &str,
    bind: impl Fn(&'a T, &mut Vec<Arg<'a>>),
) -> (String, Vec<Arg<'a>>) {
    padded(items, &format!("({condition})"), " OR ", |item, _, args| {
        bind(item, args)
    })
}

/// A target's likes: its row's `like_count` plus its slots.
pub(super) fn likes_of<DB: Dialect>(table: &str) -> String {
    let (kind, target) = match table {
        "rooms" => (0, "''".to_owned()),
        _ => (1, format!("{table}.fileid")),
    };
    format!(
        "CAST({table}.like_count + COALESCE((SELECT SUM(s.likes) FROM like_slots s \
         WHERE s.anchor = {table}.userid AND s.kind = {kind} AND s.target = {target}), 0) \
         AS {}) AS like_count",
        DB::INTEGER
    )
}

pub(super) fn room_columns<DB: Dialect>() -> String {
    format!(
        "userid, groupid, started_at, viewer_count, {}, title, \
         play_url, hls_play_url, online, nickname, headpic, location, \
         {ROOM_COVER} AS frontcover",
        likes_of::<DB>("rooms")
    )
}

pub(super) fn recording_columns<DB: Dialect>() -> String {
    format!(
        "userid, fileid, end_time, viewer_count, {}, title, \
         play_url, hls_play_url, nickname, headpic, frontcover, location",
        likes_of::<DB>("recordings")
    )
}

/// Leaves out the rows of banned users from a table with a `userid` column.
pub(super) fn not_banned(table: &str) -> String {
    // NOT IN reads the (small) bans table once per query; a correlated
    // NOT EXISTS would probe it once per row. `bans.userid` is never NULL.
    format!("{table}.userid NOT IN (SELECT userid FROM bans)")
}

pub(super) fn room_filter(scope: RoomScope) -> String {
    match scope {
        RoomScope::Online => format!("WHERE online = 1 AND {}", not_banned("rooms")),
        RoomScope::Listed => format!("WHERE {}", not_banned("rooms")),
        RoomScope::All => String::new(),
    }
}

/// A key as stored in a key column (see [`MAX_KEY_BYTES`]).
pub(super) fn stored_key(key: &str) -> Cow<'_, str> {
    if key.len() <= MAX_KEY_BYTES {
        Cow::Borrowed(key)
    } else {
        use sha2::{Digest, Sha256};
        Cow::Owned(format!("sha256:{}", hex::encode(Sha256::digest(key))))
    }
}

pub(super) fn text(row: &impl SqlRow, column: &str) -> String {
    row.text(column)
}

pub(super) fn int(row: &impl SqlRow, column: &str) -> i64 {
    row.int(column)
}

pub(super) fn member_info(row: &impl SqlRow) -> MemberInfo {
    MemberInfo {
        userid: text(row, "userid"),
        nickname: text(row, "nickname"),
        headpic: text(row, "headpic"),
    }
}

pub(super) fn userinfo<R: SqlRow>(row: &R) -> UserInfo {
    UserInfo {
        nickname: text(row, "nickname"),
        headpic: text(row, "headpic"),
        frontcover: text(row, "frontcover"),
        location: text(row, "location"),
    }
}

pub(super) fn room_info<R: SqlRow>(row: &R) -> PusherInfo {
    PusherInfo {
        userid: text(row, "userid"),
        groupid: text(row, "groupid"),
        timestamp: int(row, "started_at"),
        kind: 0,
        viewercount: int(row, "viewer_count"),
        likecount: int(row, "like_count"),
        title: text(row, "title"),
        playurl: text(row, "play_url"),
        fileid: String::new(),
        status: int(row, "online") != 0,
        hls_play_url: text(row, "hls_play_url"),
        userinfo: userinfo(row),
    }
}

pub(super) fn recording_info<R: SqlRow>(row: &R) -> PusherInfo {
    let fileid = text(row, "fileid");
    PusherInfo {
        userid: text(row, "userid"),
        // The apps enter a recording's group by its fileid.
        groupid: fileid.clone(),
        timestamp: int(row, "end_time"),
        kind: 1,
        viewercount: int(row, "viewer_count"),
        likecount: int(row, "like_count"),
        title: text(row, "title"),
        playurl: text(row, "play_url"),
        fileid,
        status: false,
        hls_play_url: text(row, "hls_play_url"),
        userinfo: userinfo(row),
    }
}
