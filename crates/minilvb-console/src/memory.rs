//! A [`ConsoleBackend`] in memory, for tests and the demo: rooms,
//! recordings, reports and bans set up by hand, a clock that stands still
//! until moved, audit rows written as the server's backend writes them, and
//! failures injected on demand.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::backend::{
    ActionResult, Actor, AuditEntry, BackendError, BackendResult, Ban, ConsoleBackend,
    LoginSession, Member, NewLoginSession, Operator, OperatorRecord, Outcome, PageRequest, Paged,
    Recording, Report, ReportOrder, Role, Room, RoomDetails,
};

#[derive(Debug, Default)]
struct State {
    operators: BTreeMap<String, (Role, String)>,
    sessions: HashMap<String, NewLoginSession>,
    rooms: BTreeMap<String, Room>,
    members: HashMap<String, Vec<Member>>,
    recordings: Vec<Recording>,
    reports: Vec<Report>,
    bans: BTreeMap<String, Ban>,
    audit: Vec<AuditEntry>,
    failure: Option<String>,
}

/// The in-memory backend. Cheap to build; share it as `Arc<MemoryBackend>`.
#[derive(Debug)]
pub struct MemoryBackend {
    now: AtomicI64,
    state: Mutex<State>,
}

impl MemoryBackend {
    /// An empty backend whose clock reads `now`.
    pub fn new(now: i64) -> Self {
        Self {
            now: AtomicI64::new(now),
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves plain data behind.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_now(&self, now: i64) {
        self.now.store(now, Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
    }

    /// From now on every call fails with this message (`None`: works again).
    pub fn fail_with(&self, message: Option<&str>) {
        self.state().failure = message.map(str::to_owned);
    }

    /// Adds or replaces an operator, hashing the password.
    pub fn put_operator(&self, name: &str, role: Role, password: &str) -> BackendResult<()> {
        let hash = crate::password::hash_password(password)
            .map_err(|e| BackendError::Failed(e.to_string()))?;
        self.state().operators.insert(name.to_owned(), (role, hash));
        Ok(())
    }

    /// Adds or replaces a room (members kept).
    pub fn put_room(&self, room: Room) {
        self.state().rooms.insert(room.userid.clone(), room);
    }

    /// Adds a viewer to a room; its viewer count follows.
    pub fn add_member(&self, room: &str, member: Member) {
        let mut state = self.state();
        let members = state.members.entry(room.to_owned()).or_default();
        members.push(member);
        let count = members.len() as i64;
        if let Some(room) = state.rooms.get_mut(room) {
            room.viewers = count;
        }
    }

    pub fn put_recording(&self, recording: Recording) {
        let mut state = self.state();
        state
            .recordings
            .retain(|r| !(r.userid == recording.userid && r.fileid == recording.fileid));
        state.recordings.push(recording);
    }

    /// Records a report as the apps file one (a repeat by the same reporter
    /// counts on the open one); returns its id.
    pub fn add_report(&self, reporter: &str, reported: &str) -> i64 {
        let now = self.now();
        let mut state = self.state();
        if let Some(open) = state
            .reports
            .iter_mut()
            .find(|r| r.resolved_at.is_none() && r.reporter == reporter && r.reported == reported)
        {
            open.times += 1;
            open.last_at = now;
            return open.id;
        }
        let id = state.reports.len() as i64 + 1;
        state.reports.push(Report {
            id,
            reporter: reporter.to_owned(),
            reported: reported.to_owned(),
            times: 1,
            first_at: now,
            last_at: now,
            resolved_at: None,
        });
        id
    }

    /// Adds or replaces a ban, without an audit row (as if made earlier).
    pub fn put_ban(&self, ban: Ban) {
        let mut state = self.state();
        if let Some(room) = state.rooms.get_mut(&ban.userid) {
            room.online = false;
        }
        state.bans.insert(ban.userid.clone(), ban);
    }

    pub fn room_now(&self, userid: &str) -> Option<Room> {
        self.state().rooms.get(userid).cloned()
    }

    pub fn recordings_now(&self) -> Vec<Recording> {
        self.state().recordings.clone()
    }

    pub fn reports_now(&self) -> Vec<Report> {
        self.state().reports.clone()
    }

    /// Every ban kept, lapsed or not.
    pub fn bans_now(&self) -> Vec<Ban> {
        self.state().bans.values().cloned().collect()
    }

    /// The audit log, oldest first.
    pub fn audit_now(&self) -> Vec<AuditEntry> {
        self.state().audit.clone()
    }

    pub fn session_count(&self) -> usize {
        self.state().sessions.len()
    }

    fn check(&self) -> BackendResult<MutexGuard<'_, State>> {
        let state = self.state();
        match &state.failure {
            Some(message) => Err(BackendError::Failed(message.clone())),
            None => Ok(state),
        }
    }

    fn audit(
        &self,
        state: &mut State,
        actor: &Actor,
        action: &str,
        target: &str,
        reason: &str,
        result: &ActionResult,
    ) {
        let outcome = match result {
            Ok(outcome) => outcome.0.clone(),
            Err(BackendError::Failed(message)) => format!("failed: {message}"),
            Err(BackendError::NotFound(_)) => return,
        };
        let id = state.audit.len() as i64 + 1;
        state.audit.push(AuditEntry {
            id,
            at: self.now(),
            actor: actor.0.clone(),
            action: action.to_owned(),
            target: target.to_owned(),
            reason: reason.to_owned(),
            outcome,
        });
    }

    fn ban_in_force(&self, state: &State, userid: &str) -> Option<Ban> {
        let now = self.now();
        state
            .bans
            .get(userid)
            .filter(|b| b.until.is_none_or(|until| until > now))
            .cloned()
    }
}

fn page<T: Clone>(rows: &[T], page: PageRequest) -> Paged<T> {
    let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    Paged {
        total: rows.len() as u64,
        rows: rows
            .iter()
            .skip(offset)
            .take(page.size as usize)
            .cloned()
            .collect(),
    }
}

fn not_found(what: String) -> ActionResult {
    Err(BackendError::NotFound(what))
}

#[async_trait]
impl ConsoleBackend for MemoryBackend {
    fn now(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    async fn find_operator(&self, name: &str) -> BackendResult<Option<OperatorRecord>> {
        let state = self.check()?;
        Ok(state
            .operators
            .get(name)
            .map(|(role, hash)| OperatorRecord {
                name: name.to_owned(),
                role: *role,
                password_hash: hash.clone(),
            }))
    }

    async fn operators(&self) -> BackendResult<Vec<Operator>> {
        let state = self.check()?;
        Ok(state
            .operators
            .iter()
            .map(|(name, (role, _))| Operator {
                name: name.clone(),
                role: *role,
            })
            .collect())
    }

    async fn add_operator(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        password_hash: &str,
    ) -> ActionResult {
        let mut state = self.check()?;
        let result = if state.operators.contains_key(name) {
            Err(BackendError::Failed(format!(
                "an operator named {name} exists already"
            )))
        } else {
            state
                .operators
                .insert(name.to_owned(), (role, password_hash.to_owned()));
            Ok(Outcome(format!("operator {name} added as {role}")))
        };
        self.audit(&mut state, actor, "add_operator", name, "", &result);
        result
    }

    async fn remove_operator(&self, actor: &Actor, name: &str) -> ActionResult {
        let mut state = self.check()?;
        let Some((role, _)) = state.operators.get(name) else {
            return not_found(format!("no operator named {name}"));
        };
        let admins = state
            .operators
            .values()
            .filter(|(r, _)| *r == Role::Admin)
            .count();
        let result = if *role == Role::Admin && admins == 1 {
            Err(BackendError::Failed(format!(
                "{name} is the last admin; add another admin first"
            )))
        } else {
            state.operators.remove(name);
            state.sessions.retain(|_, s| s.operator != name);
            Ok(Outcome(format!("operator {name} removed")))
        };
        self.audit(&mut state, actor, "remove_operator", name, "", &result);
        result
    }

    async fn set_operator_password(
        &self,
        actor: &Actor,
        name: &str,
        password_hash: &str,
    ) -> ActionResult {
        let mut state = self.check()?;
        let Some(account) = state.operators.get_mut(name) else {
            return not_found(format!("no operator named {name}"));
        };
        account.1 = password_hash.to_owned();
        state.sessions.retain(|_, s| s.operator != name);
        let result = Ok(Outcome(format!("password of {name} changed")));
        self.audit(&mut state, actor, "set_password", name, "", &result);
        result
    }

    async fn create_session(&self, session: &NewLoginSession) -> BackendResult<()> {
        let now = self.now();
        let mut state = self.check()?;
        state.sessions.retain(|_, s| s.expires_at > now);
        state.sessions.insert(session.id.clone(), session.clone());
        Ok(())
    }

    async fn session(&self, id: &str) -> BackendResult<Option<LoginSession>> {
        let state = self.check()?;
        let Some(session) = state.sessions.get(id) else {
            return Ok(None);
        };
        Ok(state
            .operators
            .get(&session.operator)
            .map(|(role, _)| LoginSession {
                id: session.id.clone(),
                operator: session.operator.clone(),
                role: *role,
                csrf_token: session.csrf_token.clone(),
                created_at: session.created_at,
                expires_at: session.expires_at,
            }))
    }

    async fn touch_session(&self, id: &str, expires_at: i64) -> BackendResult<()> {
        let mut state = self.check()?;
        if let Some(session) = state.sessions.get_mut(id) {
            session.expires_at = expires_at;
        }
        Ok(())
    }

    async fn delete_session(&self, id: &str) -> BackendResult<()> {
        self.check()?.sessions.remove(id);
        Ok(())
    }

    async fn live_rooms(&self) -> BackendResult<Vec<Room>> {
        let state = self.check()?;
        Ok(state.rooms.values().filter(|r| r.online).cloned().collect())
    }

    async fn room(&self, userid: &str) -> BackendResult<Option<RoomDetails>> {
        let state = self.check()?;
        Ok(state.rooms.get(userid).map(|room| RoomDetails {
            room: room.clone(),
            stream_id: format!("stream_{userid}"),
            ban: self.ban_in_force(&state, userid),
        }))
    }

    async fn members(&self, userid: &str, request: PageRequest) -> BackendResult<Paged<Member>> {
        let state = self.check()?;
        Ok(page(
            state.members.get(userid).map_or(&[][..], Vec::as_slice),
            request,
        ))
    }

    async fn recordings(
        &self,
        vj: Option<&str>,
        request: PageRequest,
    ) -> BackendResult<Paged<Recording>> {
        let state = self.check()?;
        let mut rows: Vec<Recording> = state
            .recordings
            .iter()
            .filter(|r| vj.is_none_or(|vj| r.userid == vj))
            .cloned()
            .collect();
        rows.sort_by(|a, b| b.ended_at.cmp(&a.ended_at).then(a.fileid.cmp(&b.fileid)));
        Ok(page(&rows, request))
    }

    async fn open_reports(
        &self,
        order: ReportOrder,
        reported: Option<&str>,
    ) -> BackendResult<Vec<Report>> {
        let state = self.check()?;
        let mut rows: Vec<Report> = state
            .reports
            .iter()
            .filter(|r| r.resolved_at.is_none() && reported.is_none_or(|u| r.reported == u))
            .cloned()
            .collect();
        let newest = |a: &Report, b: &Report| b.last_at.cmp(&a.last_at).then(b.id.cmp(&a.id));
        match order {
            ReportOrder::Newest => rows.sort_by(newest),
            ReportOrder::MostReported => {
                rows.sort_by(|a, b| b.times.cmp(&a.times).then(newest(a, b)))
            }
        }
        Ok(rows)
    }

    async fn bans(&self) -> BackendResult<Vec<Ban>> {
        let state = self.check()?;
        let mut rows: Vec<Ban> = state
            .bans
            .keys()
            .filter_map(|userid| self.ban_in_force(&state, userid))
            .collect();
        rows.sort_by(|a, b| b.since.cmp(&a.since).then(a.userid.cmp(&b.userid)));
        Ok(rows)
    }

    async fn audit_log(&self, request: PageRequest) -> BackendResult<Paged<AuditEntry>> {
        let state = self.check()?;
        let newest_first: Vec<AuditEntry> = state.audit.iter().rev().cloned().collect();
        Ok(page(&newest_first, request))
    }

    async fn force_offline(&self, actor: &Actor, userid: &str, reason: &str) -> ActionResult {
        let mut state = self.check()?;
        let Some(room) = state.rooms.get_mut(userid) else {
            return not_found(format!("no room of userid {userid}"));
        };
        let result = Ok(Outcome(if room.online {
            room.online = false;
            format!("room of {userid} is offline")
        } else {
            format!("room of {userid} was offline already")
        }));
        self.audit(&mut state, actor, "force_offline", userid, reason, &result);
        result
    }

    async fn ban(
        &self,
        actor: &Actor,
        userid: &str,
        reason: &str,
        until: Option<i64>,
    ) -> ActionResult {
        let now = self.now();
        let mut state = self.check()?;
        let again = self.ban_in_force(&state, userid).is_some();
        state.bans.insert(
            userid.to_owned(),
            Ban {
                userid: userid.to_owned(),
                reason: reason.to_owned(),
                since: now,
                until,
            },
        );
        if let Some(room) = state.rooms.get_mut(userid) {
            room.online = false;
        }
        let result = Ok(Outcome(if again {
            format!("{userid} was banned already; the ban is replaced")
        } else {
            format!("{userid} is banned; its room is offline")
        }));
        self.audit(&mut state, actor, "ban", userid, reason, &result);
        result
    }

    async fn unban(&self, actor: &Actor, userid: &str, reason: &str) -> ActionResult {
        let mut state = self.check()?;
        if self.ban_in_force(&state, userid).is_none() {
            return not_found(format!("{userid} is not banned"));
        }
        state.bans.remove(userid);
        let result = Ok(Outcome(format!("{userid} may broadcast again")));
        self.audit(&mut state, actor, "unban", userid, reason, &result);
        result
    }

    async fn resolve_report(&self, actor: &Actor, id: i64, resolution: &str) -> ActionResult {
        let now = self.now();
        let mut state = self.check()?;
        let Some(report) = state
            .reports
            .iter_mut()
            .find(|r| r.id == id && r.resolved_at.is_none())
        else {
            return not_found(format!("no open report {id}"));
        };
        report.resolved_at = Some(now);
        let target = format!("report {id} ({})", report.reported);
        let result = Ok(Outcome(format!("report {id} resolved")));
        self.audit(
            &mut state,
            actor,
            "resolve_report",
            &target,
            resolution,
            &result,
        );
        result
    }

    async fn delete_recording(
        &self,
        actor: &Actor,
        userid: &str,
        fileid: &str,
        reason: &str,
    ) -> ActionResult {
        let mut state = self.check()?;
        let before = state.recordings.len();
        state
            .recordings
            .retain(|r| !(r.userid == userid && r.fileid == fileid));
        if state.recordings.len() == before {
            return not_found(format!("no recording {fileid} of userid {userid}"));
        }
        let result = Ok(Outcome(format!("recording {fileid} of {userid} deleted")));
        let target = format!("{userid}/{fileid}");
        self.audit(
            &mut state,
            actor,
            "delete_recording",
            &target,
            reason,
            &result,
        );
        result
    }
}
