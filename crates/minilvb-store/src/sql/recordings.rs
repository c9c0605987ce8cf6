//! Recordings: the cloud's recording notices, merged by broadcast.

use super::*;

impl<DB: Dialect> SqlStore<DB> {
    /// Creates or replaces a recording; `likes` replaces its likes when given.
    pub(super) async fn replace_recording(
        tx: &mut DB::Conn,
        r: &NewRecording,
        likes: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let lock = format!(
            "SELECT userid FROM recordings WHERE userid = ? AND fileid = ?{}",
            DB::FOR_UPDATE
        );
        let exists = Self::found(tx, &lock, args![&r.userid, &r.fileid]).await?;
        // Both statements bind the same values in the same order.
        let statement = if exists {
            "UPDATE recordings SET title = ?, nickname = ?, headpic = ?, frontcover = ?, \
             location = ?, play_url = ?, hls_play_url = ?, start_time = ?, end_time = ?, \
             like_count = COALESCE(?, like_count) WHERE userid = ? AND fileid = ?"
        } else {
            "INSERT INTO recordings (title, nickname, headpic, frontcover, location, \
             play_url, hls_play_url, start_time, end_time, like_count, userid, fileid) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(?, 0), ?, ?)"
        };
        let u = &r.userinfo;
        let values = args![
            &r.title,
            &u.nickname,
            &u.headpic,
            &u.frontcover,
            &u.location,
            &r.play_url,
            &r.hls_play_url,
            r.start_time,
            r.end_time,
            likes.map(|n| n.max(0)),
            &r.userid,
            &r.fileid,
        ];
        Self::exec(tx, statement, values).await?;
        if likes.is_some() {
            Self::clear_likes(tx, (&r.userid, 1, &r.fileid)).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl<DB: Dialect> Recordings for SqlStore<DB> {
    async fn put_recording(&self, r: &NewRecording) -> StoreResult<()> {
        transaction!(self, "put_recording", |tx| {
            Self::replace_recording(tx, r, None).await
        })
    }

    async fn add_recording_file(&self, f: &RecordingFile) -> StoreResult<RecordingOutcome> {
        let notice_key = stored_key(&f.notice_key);
        let notice_key = notice_key.as_ref();
        transaction!(self, "add_recording_file", |tx| {
            let seen = Self::found(
                tx,
                "SELECT 1 FROM recording_files WHERE notice_key = ?",
                args![notice_key],
            )
            .await?;
            if seen {
                return Ok(RecordingOutcome::Duplicate);
            }
            let room = format!(
                "SELECT userid, title, nickname, headpic, location, {ROOM_COVER} AS frontcover \
                 FROM rooms WHERE stream_id = ?"
            );
            let rows = Self::fetch(tx, &room, args![&f.stream_id]).await?;
            let Some(room) = rows.first() else {
                return Ok(RecordingOutcome::UnknownStream);
            };
            let userid = text(room, "userid");
            // Writing the anchor's notice counter serializes the notices of
            // one anchor, so two formats of one broadcast arriving at once
            // still merge. A write rather than FOR UPDATE: on a Galera
            // cluster a row lock holds on its own node only, a write
            // conflicts cluster-wide. Two first notices of an anchor race
            // on the counter's key; the loser is re-run.
            let counted = Self::exec(
                tx,
                "UPDATE recording_notices SET notices = notices + 1 WHERE userid = ?",
                args![&userid],
            )
            .await?;
            if counted == 0 {
                Self::exec(
                    tx,
                    "INSERT INTO recording_notices (userid, notices) VALUES (?, 1)",
                    args![&userid],
                )
                .await?;
            }
            // A recording of the same broadcast that lacks this format?
            let candidates = Self::fetch(
                tx,
                "SELECT fileid, start_time, end_time FROM recordings r WHERE userid = ? \
                 AND start_time < ? AND end_time > ? AND NOT EXISTS (SELECT 1 FROM \
                 recording_files f WHERE f.userid = r.userid AND f.fileid = r.fileid \
                 AND f.format = ?) ORDER BY end_time DESC LIMIT 8",
                args![&userid, f.end_time, f.start_time, &f.format],
            )
            .await?;
            let merged_into = candidates.iter().find_map(|row| {
                let span = (int(row, "start_time"), int(row, "end_time"));
                same_broadcast(span, (f.start_time, f.end_time)).then(|| text(row, "fileid"))
            });
            let fileid = merged_into.clone().unwrap_or_else(|| f.fileid.clone());
            let exists = Self::found(
                tx,
                "SELECT 1 FROM recordings WHERE userid = ? AND fileid = ?",
                args![&userid, &fileid],
            )
            .await?;
            if !exists {
                Self::exec(
                    tx,
                    "INSERT INTO recordings (userid, fileid, title, nickname, headpic, \
                     frontcover, location, play_url, hls_play_url, start_time, end_time) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, '', '', ?, ?)",
                    args![
                        &userid,
                        &fileid,
                        &text(room, "title"),
                        &text(room, "nickname"),
                        &text(room, "headpic"),
                        &text(room, "frontcover"),
                        &text(room, "location"),
                        f.start_time,
                        f.end_time,
                    ],
                )
                .await?;
            }
            Self::exec(
                tx,
                "INSERT INTO recording_files (notice_key, userid, fileid, format, url, \
                 start_time, end_time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                args![
                    notice_key,
                    &userid,
                    &fileid,
                    &f.format,
                    &f.url,
                    f.start_time,
                    f.end_time,
                ],
            )
            .await?;
            let files = Self::fetch(
                tx,
                "SELECT format, url FROM recording_files WHERE userid = ? AND fileid = ?",
                args![&userid, &fileid],
            )
            .await?;
            let files: Vec<(String, String)> = files
                .iter()
                .map(|row| (text(row, "format"), text(row, "url")))
                .collect();
            let (play_url, hls_play_url) =
                recording_urls(files.iter().map(|(f, u)| (f.as_str(), u.as_str())));
            Self::exec(
                tx,
                "UPDATE recordings SET play_url = ?, hls_play_url = ?, \
                 start_time = CASE WHEN ? < start_time THEN ? ELSE start_time END, \
                 end_time = CASE WHEN ? > end_time THEN ? ELSE end_time END \
                 WHERE userid = ? AND fileid = ?",
                args![
                    &play_url,
                    &hls_play_url,
                    f.start_time,
                    f.start_time,
                    f.end_time,
                    f.end_time,
                    &userid,
                    &fileid,
                ],
            )
            .await?;
            Ok(match merged_into {
                Some(_) => RecordingOutcome::Merged { userid, fileid },
                None => RecordingOutcome::Created { userid, fileid },
            })
        })
    }
}
