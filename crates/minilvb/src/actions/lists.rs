//! FetchList and GetUserInfo: what viewers browse.

use minilvb_protocol::{Counted, ListFlag, Page, ProtocolError, PusherList, ReturnData};

use super::Context;
use super::rooms::not_found;
use minilvb_store::RoomScope;

/// FetchList. Counts exactly what it lists. Flag 3 pages through the online
/// rooms and then the recordings as one continuous list.
pub async fn fetch_list(
    ctx: &Context,
    flag: ListFlag,
    page: Page,
) -> Result<ReturnData, ProtocolError> {
    let store = &ctx.store;
    let since = ctx.clock.now() - i64::from(ctx.settings.live.recordings_window_days) * 86_400;
    let (offset, limit) = (page.offset(), page.size);
    let list = match flag {
        ListFlag::Online | ListFlag::AllRooms => {
            let scope = match flag {
                ListFlag::Online => RoomScope::Online,
                _ => RoomScope::Listed,
            };
            PusherList {
                totalcount: store.count_rooms(scope).await?,
                pusherlist: vec![store.rendered_rooms(scope, offset, limit).await?],
            }
        }
        ListFlag::Recordings => PusherList {
            totalcount: store.count_recordings(since).await?,
            pusherlist: vec![store.rendered_recordings(since, offset, limit).await?],
        },
        ListFlag::OnlineThenRecordings => {
            let rooms = store.count_rooms(RoomScope::Online).await?;
            let recordings = store.count_recordings(since).await?;
            let mut pusherlist = Vec::with_capacity(2);
            if offset < rooms {
                pusherlist.push(
                    store
                        .rendered_rooms(RoomScope::Online, offset, limit)
                        .await?,
                );
            }
            let listed: usize = pusherlist.iter().map(|page| page.rows().len()).sum();
            let wanted = limit - listed as i64;
            if wanted > 0 {
                let skip = offset.saturating_sub(rooms).max(0);
                pusherlist.push(store.rendered_recordings(since, skip, wanted).await?);
            }
            PusherList {
                totalcount: rooms + recordings,
                pusherlist,
            }
        }
        ListFlag::Other => PusherList {
            totalcount: 0,
            pusherlist: Vec::new(),
        },
    };
    // Both URL fields are filled as the apps need (see `SharedPusher`).
    Ok(ReturnData::List(list))
}

/// GetUserInfo: a room (any status) or a recording, as FetchList shows it.
pub async fn get_user_info(ctx: &Context, target: &Counted) -> Result<ReturnData, ProtocolError> {
    match ctx.store.rendered_pusher(target).await? {
        Some(info) => Ok(ReturnData::Pusher(info)),
        None => Err(not_found(target)),
    }
}
